//! The 5xx guard: ensure the alarms exist, refuse to start while one is in ALARM, and watch them
//! through the traffic shift and the bake window.

pub mod alarm;
pub mod state;

pub use alarm::{AlarmSpec, FiveXx, dimension_values, ensure_five_xx, guard_alarm_name};
pub use state::{AlarmStates, fired, precheck};
