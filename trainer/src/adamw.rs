//! AdamW over plain tensors (torch.optim.AdamW's update), so that its state can be saved and restored exactly.
//! Weight decay skips 1-D parameters and biases, as the reference's ZERO_WD_1D_PARAM.
use crate::error::{Error, Result};
use std::collections::HashMap;
use tch::{Kind, Tensor};

/// AdamW with torch's defaults (betas 0.9/0.999, eps 1e-8) over named parameters.
pub struct AdamW {
    params: Vec<(String, Tensor)>,
    exp_avg: Vec<Tensor>,
    exp_avg_sq: Vec<Tensor>,
    steps: i64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    /// Update with libtorch's fused multi-tensor AdamW and foreach gradient norm (froster-shim).
    fused: bool,
    /// The fused kernel's per-parameter step counts (float scalars on each parameter's device), made on first use.
    step_t: Vec<Tensor>,
}

impl AdamW {
    /// `params`: the trainable tensors by name (requires_grad).
    pub fn new(params: Vec<(String, Tensor)>, weight_decay: f64) -> Self {
        let zeros = |p: &Tensor| Tensor::zeros_like(p).to_kind(Kind::Float);
        let exp_avg = params.iter().map(|(_, p)| zeros(p)).collect();
        let exp_avg_sq = params.iter().map(|(_, p)| zeros(p)).collect();
        AdamW {
            params,
            exp_avg,
            exp_avg_sq,
            steps: 0,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay,
            fused: false,
            step_t: Vec::new(),
        }
    }

    /// Updates with libtorch's fused AdamW and foreach gradient norm: one kernel per parameter list instead of
    /// several per parameter (the same maths; rounding may differ in the last bits).
    pub fn set_fused(&mut self, fused: bool) {
        self.fused = fused;
    }

    /// The parameters' defined gradients, in the same order on every rank.
    pub fn grads(&self) -> Vec<Tensor> {
        self.params.iter().map(|(_, p)| p.grad()).filter(|g| g.defined()).collect()
    }

    fn decays(name: &str, p: &Tensor) -> bool {
        !(p.dim() == 1 || name.ends_with(".bias"))
    }

    /// Global L2 norm of the gradients, then scaled down to `max_norm` if above (clip_grad_norm_). Returns the
    /// norm before clipping as a 0-d tensor (no host sync).
    pub fn clip_grad_norm(&self, max_norm: f64) -> Tensor {
        if self.fused {
            let grads: Vec<Tensor> = self.grads();
            if let Ok(total) = froster_shim::clip_grad_norm(&grads.iter().collect::<Vec<_>>(), max_norm) {
                return total;
            }
        }
        let grads: Vec<Tensor> = self.params.iter().map(|(_, p)| p.grad()).filter(|g| g.defined()).collect();
        let norms: Vec<Tensor> = grads.iter().map(|g| g.to_kind(Kind::Float).norm()).collect();
        let total = Tensor::stack(&norms, 0).norm();
        let coef = (max_norm / (&total + 1e-6)).clamp_max(1.0);
        tch::no_grad(|| {
            for g in &grads {
                let _ = g.shallow_clone().g_mul_(&coef.to_kind(g.kind()));
            }
        });
        total
    }

    /// One update with learning rate `lr` from the parameters' gradients.
    pub fn step(&mut self, lr: f64) -> Result<()> {
        self.steps += 1;
        let (b1, b2) = self.betas;
        if self.fused {
            return self.fused_step(lr).map_err(|e| Error::Optimizer(e.to_string()));
        }
        let bc1 = 1.0 - b1.powi(self.steps as i32);
        let bc2 = 1.0 - b2.powi(self.steps as i32);
        tch::no_grad(|| {
            for (i, (name, p)) in self.params.iter().enumerate() {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let g = g.to_kind(Kind::Float);
                let mut p = p.shallow_clone();
                if self.weight_decay != 0.0 && Self::decays(name, &p) {
                    let _ = p.g_mul_scalar_(1.0 - lr * self.weight_decay);
                }
                let (m, v) = (&mut self.exp_avg[i], &mut self.exp_avg_sq[i]);
                let _ = m.g_mul_scalar_(b1).g_add_(&(&g * (1.0 - b1)));
                let _ = v.g_mul_scalar_(b2).g_add_(&(&g * &g * (1.0 - b2)));
                let denom = v.sqrt() / bc2.sqrt() + self.eps;
                let update = (&*m / denom) * (lr / bc1);
                let _ = p.g_sub_(&update.to_kind(p.kind()));
            }
        });
        Ok(())
    }

    /// One update of every parameter with a gradient by the fused kernel, decaying and non-decaying groups apart.
    fn fused_step(&mut self, lr: f64) -> std::result::Result<(), froster_shim::Error> {
        if self.step_t.len() != self.params.len() {
            // The kernel adds one before using them: they start at the updates taken before this one.
            let before = (self.steps - 1) as f64;
            self.step_t =
                self.params.iter().map(|(_, p)| Tensor::full([], before, (Kind::Float, p.device()))).collect();
        }
        let grads: Vec<Tensor> = self.params.iter().map(|(_, p)| p.grad()).collect();
        for decay in [true, false] {
            let idx: Vec<usize> = (0..self.params.len())
                .filter(|&i| grads[i].defined())
                .filter(|&i| (self.weight_decay != 0.0 && Self::decays(&self.params[i].0, &self.params[i].1)) == decay)
                .collect();
            if idx.is_empty() {
                continue;
            }
            let pick = |v: &[Tensor]| idx.iter().map(|&i| v[i].shallow_clone()).collect::<Vec<_>>();
            let params: Vec<Tensor> = idx.iter().map(|&i| self.params[i].1.shallow_clone()).collect();
            let (g, m, v, s) = (pick(&grads), pick(&self.exp_avg), pick(&self.exp_avg_sq), pick(&self.step_t));
            let h = froster_shim::AdamWParams {
                lr,
                betas: self.betas,
                weight_decay: if decay { self.weight_decay } else { 0.0 },
                eps: self.eps,
            };
            tch::no_grad(|| froster_shim::fused_adamw(&refs(&params), &refs(&g), &refs(&m), &refs(&v), &refs(&s), h))?;
        }
        Ok(())
    }

    /// Updates taken so far.
    pub fn steps(&self) -> i64 {
        self.steps
    }

    /// The parameters, by name.
    pub fn params(&self) -> &[(String, Tensor)] {
        &self.params
    }

    /// Zeroes every parameter's gradient.
    pub fn zero_grad(&self) {
        for (_, p) in &self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }

    /// Optimizer state as named tensors (plus the step, which the caller saves as JSON).
    pub fn state(&self) -> HashMap<String, Tensor> {
        let mut s = HashMap::new();
        for (i, (name, _)) in self.params.iter().enumerate() {
            s.insert(format!("exp_avg.{name}"), self.exp_avg[i].shallow_clone());
            s.insert(format!("exp_avg_sq.{name}"), self.exp_avg_sq[i].shallow_clone());
        }
        s
    }

    /// Restores [`AdamW::state`] after `steps` updates; every parameter's moments must be there, in its shape.
    pub fn load_state(&mut self, s: &HashMap<String, Tensor>, steps: i64) -> Result<()> {
        tch::no_grad(|| {
            for (i, (name, _)) in self.params.iter().enumerate() {
                for (k, slot) in [("exp_avg", &mut self.exp_avg[i]), ("exp_avg_sq", &mut self.exp_avg_sq[i])] {
                    let key = format!("{k}.{name}");
                    let bad = |reason: &str| Error::OptimizerState(format!("'{key}' {reason}"));
                    let src = s.get(&key).ok_or_else(|| bad("is missing"))?;
                    if src.size() != slot.size() {
                        return Err(bad("has another shape than its parameter"));
                    }
                    slot.copy_(src);
                }
            }
            Ok(())
        })?;
        self.steps = steps;
        self.step_t.clear(); // remade from `steps` at the next fused update
        Ok(())
    }
}

fn refs(v: &[Tensor]) -> Vec<&Tensor> {
    v.iter().collect()
}
