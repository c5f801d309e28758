//! The build context as a tar that honours .dockerignore. STUB.
