//! The one seam between the loader and the model: a batch in the loader's layout (uint8 `[B, T, H, W, C]`)
//! becomes the model's normalised f32 `[B, T, C, H, W]` in one permute, on the device.
use froster_loader::{Batch, CLIP_MEAN, CLIP_STD};
use tch::{Device, Kind, Tensor};

/// One micro-batch on the device: the clips and their labels.
pub struct Clips {
    /// Normalised frames `[B, T, 3, H, W]`.
    pub video: Tensor,
    /// Class ids `[B]`.
    pub labels: Tensor,
}

impl Clips {
    /// A loader batch moved to `device`: uint8 goes over the bus (a quarter of f32's bytes) and is normalised
    /// there.
    pub fn from_batch(b: &Batch, device: Device) -> Clips {
        let [n, t, h, w, c] = b.shape.map(|d| d as i64);
        let x = Tensor::from_slice(&b.u8).view([n, t, h, w, c]).to_device(device);
        let mean = Tensor::from_slice(&CLIP_MEAN).to_device(device);
        let std = Tensor::from_slice(&CLIP_STD).to_device(device);
        let video = ((x.to_kind(Kind::Float) / 255.0 - mean) / std).permute([0, 1, 4, 2, 3]).contiguous();
        Clips { video, labels: Tensor::from_slice(&b.labels).to_device(device) }
    }
}
