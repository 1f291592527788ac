//! The compute device, from a command line's word.
use crate::error::{Error, Result};
use tch::Device;

/// `cpu`, `cuda`, `cuda:N` or `auto` (the first GPU when there is one). A GPU asked for on a machine without one
/// is a one-line error here, not a libtorch backtrace later.
pub fn parse_device(word: &str) -> Result<Device> {
    let cuda = |i: usize| {
        let n = tch::Cuda::device_count() as usize;
        if i < n {
            Ok(Device::Cuda(i))
        } else if n == 0 {
            Err(Error::Device(format!("--device {word}: no CUDA GPU is visible to libtorch (use --device cpu)")))
        } else {
            Err(Error::Device(format!("--device {word}: only {n} CUDA GPUs are visible")))
        }
    };
    match word {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(Device::cuda_if_available()),
        "cuda" => cuda(0),
        _ => match word.strip_prefix("cuda:").and_then(|i| i.parse().ok()) {
            Some(i) => cuda(i),
            None => Err(Error::Device(format!("--device '{word}': expected cpu, cuda, cuda:N or auto"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::parse_device;

    #[test]
    fn words() {
        assert_eq!(parse_device("cpu").unwrap(), tch::Device::Cpu);
        assert!(parse_device("gpu").unwrap_err().to_string().contains("expected cpu"));
        if !tch::Cuda::is_available() {
            let e = parse_device("cuda").unwrap_err().to_string();
            assert!(e.contains("no CUDA GPU") && !e.contains('\n'), "{e}");
        }
    }
}
