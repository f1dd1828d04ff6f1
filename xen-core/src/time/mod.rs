//! Time: TSC scaling to nanoseconds, vcpu_time_info and wall clock, CMOS RTC dates, timers.

pub mod calibrate;
pub mod clock;
pub mod guest_time;
pub mod poll;
pub mod rtc;
pub mod runstate;
pub mod seqlock;
pub mod timers;
pub mod tsc_scale;
pub mod vcpu_time;
pub mod vcpu_timers;
pub mod wallclock;
