// Every kernel in one compile unit: build.rs makes one fatbin of it (cpp/kernels.cpp loads it).
#include "quick_gelu.cu"
#include "layer_norm.cu"
#include "temporal_kv.cu"
