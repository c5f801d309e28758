//! The few git facts a release needs. STUB.
