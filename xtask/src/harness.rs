//! What every end-to-end bench needs: starting and stopping processes by PID, pinning them,
//! their CPU time and memory from `/proc`, what else the machine did meanwhile, config
//! templates, builds, and a JSON writer.

pub mod build;
pub mod cpu;
pub mod json;
pub mod origin;
pub mod process;
pub mod running;
pub mod system;
pub mod template;
