//! Time: TSC scaling to nanoseconds, vcpu_time_info and wall clock, CMOS RTC dates.
