//! `.pipeline.yml`: the model, loading with file:line:column errors, overrides, normalisation. STUB.
