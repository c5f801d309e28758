//! Image build through the Docker engine API. STUB.
