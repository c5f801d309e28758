//! STUB
#[derive(Debug)]
pub struct Error;
pub struct ExitCode;
