//! Time: TSC scaling to nanoseconds, vcpu_time_info and wall clock, CMOS RTC dates.

pub mod calibrate;
pub mod clock;
pub mod rtc;
pub mod seqlock;
pub mod tsc_scale;
pub mod vcpu_time;
pub mod wallclock;
