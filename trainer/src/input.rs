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
        Clips::normalised(bytes(b).to_device(device), b, device)
    }

    /// [`Clips::from_batch`] for a batch moved ahead of its step ([`crate::feed`]): on CUDA the bytes are copied
    /// into pinned memory and sent without blocking on the calling thread's current stream (the caller waits for
    /// that stream before handing the clips on); elsewhere the same as `from_batch`.
    pub fn from_batch_ahead(b: &Batch, device: Device) -> Clips {
        let x = match device {
            Device::Cuda(_) => bytes(b).pin_memory(device).to_device_(device, Kind::Uint8, true, false),
            _ => bytes(b).to_device(device),
        };
        Clips::normalised(x, b, device)
    }

    /// uint8 `[B, T, H, W, C]` on `device` -> the clips, with `b`'s labels.
    fn normalised(x: Tensor, b: &Batch, device: Device) -> Clips {
        let mean = Tensor::from_slice(&CLIP_MEAN).to_device(device);
        let std = Tensor::from_slice(&CLIP_STD).to_device(device);
        let video = ((x.to_kind(Kind::Float) / 255.0 - mean) / std).permute([0, 1, 4, 2, 3]).contiguous();
        Clips { video, labels: Tensor::from_slice(&b.labels).to_device(device) }
    }
}

/// The batch's bytes as a uint8 tensor [B, T, H, W, C] without a copy on the CPU first (about 38 MB at ViT-B/16
/// batch 32, copied between steps while the device waits): they go over the bus, or into the first op's output,
/// as they are. A batch whose bytes do not fill its shape is copied (and refused by the view, as before).
fn bytes(b: &Batch) -> Tensor {
    let [n, t, h, w, c] = b.shape.map(|d| d as i64);
    if b.u8.len() as i64 != n * t * h * w * c {
        return Tensor::from_slice(&b.u8).view([n, t, h, w, c]);
    }
    let strides = [t * h * w * c, h * w * c, w * c, c, 1];
    // Safety: the tensor borrows `b.u8`, which outlives it: `from_batch` only returns tensors made by ops on it
    // (the transfer to the device, or the conversion to f32 on the CPU), never a view of it.
    unsafe { Tensor::from_blob(b.u8.as_ptr(), &[n, t, h, w, c], &strides, Kind::Uint8, Device::Cpu) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_are_the_normalised_bytes_frames_first_and_own_their_memory() {
        let shape = [2, 3, 4, 5, 3];
        let u8: Vec<u8> = (0..shape.iter().product::<usize>()).map(|i| (i * 7 % 256) as u8).collect();
        let mut b = Batch { u8: u8.clone(), shape, labels: vec![1, 0], ..Default::default() };
        let clips = Clips::from_batch(&b, Device::Cpu);
        b.u8.fill(0); // the clips must not alias the batch's bytes (the loader recycles them)
        assert_eq!(clips.video.size(), [2, 3, 3, 4, 5]);
        let want = (Tensor::from_slice(&u8).view([2, 3, 4, 5, 3]).to_kind(Kind::Float) / 255.0
            - Tensor::from_slice(&CLIP_MEAN))
            / Tensor::from_slice(&CLIP_STD);
        let diff = (&clips.video - want.permute([0, 1, 4, 2, 3])).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "{diff}");
        assert_eq!(Vec::<i64>::try_from(&clips.labels).unwrap(), [1, 0]);
    }
}
