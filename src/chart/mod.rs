//! What a chart package is: its metadata (`Chart.yaml`), how a package is read and
//! checked, and how versions compare.

pub mod metadata;
pub mod package;
pub mod provenance;
pub mod version;

pub use metadata::ChartVersionEntry;
pub use package::{ChartPackage, Keep};
