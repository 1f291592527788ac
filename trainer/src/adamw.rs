//! AdamW over plain tensors (torch.optim.AdamW's update), so that its state can be saved and restored exactly.
//! Weight decay skips 1-D parameters and biases, as the reference's ZERO_WD_1D_PARAM.
use std::collections::HashMap;
use tch::{Kind, Tensor};

pub struct AdamW {
    pub params: Vec<(String, Tensor)>,
    pub exp_avg: Vec<Tensor>,
    pub exp_avg_sq: Vec<Tensor>,
    pub step: i64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
}

impl AdamW {
    /// `params`: the trainable tensors by name (requires_grad).
    pub fn new(params: Vec<(String, Tensor)>, weight_decay: f64) -> Self {
        let zeros = |p: &Tensor| Tensor::zeros_like(p).to_kind(Kind::Float);
        let exp_avg = params.iter().map(|(_, p)| zeros(p)).collect();
        let exp_avg_sq = params.iter().map(|(_, p)| zeros(p)).collect();
        AdamW { params, exp_avg, exp_avg_sq, step: 0, betas: (0.9, 0.999), eps: 1e-8, weight_decay }
    }

    fn decays(name: &str, p: &Tensor) -> bool {
        !(p.dim() == 1 || name.ends_with(".bias"))
    }

    /// Global L2 norm of the gradients, then scaled down to `max_norm` if above (clip_grad_norm_). Returns the
    /// norm before clipping as a 0-d tensor (no host sync).
    pub fn clip_grad_norm(&self, max_norm: f64) -> Tensor {
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

    pub fn step(&mut self, lr: f64) {
        self.step += 1;
        let (b1, b2) = self.betas;
        let bc1 = 1.0 - b1.powi(self.step as i32);
        let bc2 = 1.0 - b2.powi(self.step as i32);
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
    }

    pub fn zero_grad(&mut self) {
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

    pub fn load_state(&mut self, s: &HashMap<String, Tensor>, step: i64) -> Result<(), String> {
        tch::no_grad(|| {
            for (i, (name, _)) in self.params.iter().enumerate() {
                let get = |k: String| s.get(&k).ok_or(format!("optimizer state lacks '{k}'"));
                self.exp_avg[i].copy_(get(format!("exp_avg.{name}"))?);
                self.exp_avg_sq[i].copy_(get(format!("exp_avg_sq.{name}"))?);
            }
            Ok::<_, String>(())
        })?;
        self.step = step;
        Ok(())
    }
}
