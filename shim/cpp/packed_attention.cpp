// Causal attention within sequences packed end to end (the student's text, froster_model::Packed): flash
// attention's variable-length kernel over the packed tokens themselves, where the eager ops scatter them into a
// padded batch, attend there and gather back. ATen's autograd knows _flash_attention_forward, so backward is
// flash's own variable-length backward. CUDA only (half types): the caller picks the eager ops elsewhere.
#include "shim.h"
#include "guard.h"

#include <ATen/ATen.h>

extern "C" int fs_packed_attention(void* q, void* k, void* v, void* offsets, int64_t max_len, void* out,
                                   char** err) {
  return froster_shim::guarded(err, [&] {
    // [1, heads, T, d] -> [T, heads, d]: a view, the head dimension still contiguous as flash needs.
    auto rows = [](void* t) { return static_cast<at::Tensor*>(t)->select(0, 0).transpose(0, 1); };
    auto cu = static_cast<at::Tensor*>(offsets)->to(at::kInt);
    auto r = at::_flash_attention_forward(rows(q), rows(k), rows(v), cu, cu, max_len, max_len, 0.0,
                                          /*is_causal=*/true, /*return_debug_mask=*/false);
    *static_cast<at::Tensor*>(out) = std::get<0>(r).transpose(0, 1).unsqueeze(0);
  });
}
