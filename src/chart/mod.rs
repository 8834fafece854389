//! What a chart package is: its metadata (`Chart.yaml`), how a package is read and
//! checked, how versions compare, and how a version looks as an OCI artifact.

pub mod metadata;
pub mod oci;
pub mod package;
pub mod provenance;
pub mod version;

pub use metadata::ChartVersionEntry;
pub use package::{ChartPackage, Keep};
