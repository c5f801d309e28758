//! Release versions and the immutable tag policy. STUB.
