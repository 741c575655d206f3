//! gc placeholder
