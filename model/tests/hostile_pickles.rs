//! Pickles made to hurt the reader: deep nesting (stack), memo references that expand exponentially (memory),
//! tensor views outside their storage (out-of-bounds reads), and a seeded mutation loop over a valid checkpoint.
//! Each must be a clear error naming the file, never a crash.
use froster_model::{check_plain_pickle, weights};
use std::io::Write;
use std::path::Path;

fn u(s: &str) -> Vec<u8> {
    let mut v = vec![b'X'];
    v.extend((s.len() as u32).to_le_bytes());
    v.extend(s.as_bytes());
    v
}

/// A torch zip: data.pkl plus storage "0" of four f32.
fn torch_zip(path: &Path, pickle: &[u8]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let o = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("archive/data.pkl", o).unwrap();
    z.write_all(pickle).unwrap();
    z.start_file("archive/data/0", o).unwrap();
    z.write_all(&[1f32, 2.0, 3.0, 4.0].iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    z.finish().unwrap();
}

/// {"w": _rebuild_tensor_v2(storage 0, offset, (size,), (stride,))}
fn tensor_pickle(offset: u8, size: u8, stride: u8) -> Vec<u8> {
    let mut p = vec![0x80, 2, b'}'];
    p.extend(u("w"));
    p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
    p.push(b'(');
    p.extend(u("storage"));
    p.extend(b"ctorch\nFloatStorage\n");
    p.extend(u("0"));
    p.extend(u("cpu"));
    p.extend([b'K', 4, b't', b'Q']);
    p.extend([b'K', offset, b'K', size, 0x85, b'K', stride, 0x85, 0x89, b't', b'R', b's', b'.']);
    p
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    // 30,000 dicts, each the value of the one before.
    let n = 30_000;
    let mut p = vec![0x80, 2, b'}'];
    for _ in 1..n {
        p.extend(u("k"));
        p.push(b'}');
    }
    p.extend(std::iter::repeat_n(b's', n - 1));
    p.push(b'.');
    let err = check_plain_pickle(&p).unwrap_err().to_string();
    assert!(err.contains("nests deeper than"), "{err}");
    // 100,000 lists, and 100,000 one-tuples.
    let mut p = vec![0x80, 2];
    p.extend(std::iter::repeat_n(b']', 100_000));
    p.extend(std::iter::repeat_n(b'a', 99_999));
    p.push(b'.');
    assert!(check_plain_pickle(&p).unwrap_err().to_string().contains("nests deeper than"));
    let mut p = vec![0x80, 2, b'N'];
    p.extend(std::iter::repeat_n(0x85, 100_000));
    p.push(b'.');
    assert!(check_plain_pickle(&p).unwrap_err().to_string().contains("nests deeper than"));
    // A few levels are fine.
    let mut p = vec![0x80, 2, b'}'];
    for _ in 1..20 {
        p.extend(u("k"));
        p.push(b'}');
    }
    p.extend(std::iter::repeat_n(b's', 19));
    p.push(b'.');
    check_plain_pickle(&p).unwrap();
}

#[test]
fn memo_references_cannot_expand_without_bound() {
    // Level i is a list of ten references to level i-1: 10^40 values if expanded.
    let mut p = vec![0x80, 2, b']', 0x94];
    for level in 0..40u8 {
        p.extend([b']', b'(']);
        for _ in 0..10 {
            p.extend([b'h', level]);
        }
        p.extend([b'e', 0x94]);
    }
    p.push(b'.');
    let t0 = std::time::Instant::now();
    let err = check_plain_pickle(&p).unwrap_err().to_string();
    assert!(err.contains("memo references"), "{err}");
    assert!(t0.elapsed().as_secs() < 30);
}

#[test]
fn tensor_views_outside_their_storage_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ok = tmp.path().join("ok.pth");
    torch_zip(&ok, &tensor_pickle(0, 4, 1));
    let w = weights::load(&ok).unwrap();
    assert_eq!(Vec::<f32>::try_from(&w["w"]).unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
    for (name, offset, size, stride) in [("past_end", 0, 10, 1), ("offset", 3, 2, 1), ("stride", 0, 3, 2)] {
        let path = tmp.path().join(format!("{name}.pth"));
        torch_zip(&path, &tensor_pickle(offset, size, stride));
        let err = weights::load(&path).unwrap_err().to_string();
        assert!(err.contains("storage of 4") && err.contains(&format!("{name}.pth")), "{name}: {err}");
    }
}

#[test]
fn mutated_checkpoints_give_errors_not_crashes() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tensor_pickle(0, 4, 1);
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut loaded, mut refused) = (0, 0);
    for i in 0..600 {
        let mut p = good.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % p.len();
            p[at] = next() as u8;
        }
        if next() % 5 == 0 {
            p.truncate((next() as usize) % p.len());
        }
        let path = tmp.path().join(format!("m{}.pth", i % 8));
        torch_zip(&path, &p);
        match weights::load(&path) {
            Ok(_) => loaded += 1,
            Err(e) => {
                assert!(e.to_string().contains(".pth"), "the error names the file: {e}");
                refused += 1;
            }
        }
    }
    assert!(refused > 100, "most mutations are refused ({loaded} loaded, {refused} refused)");
}

#[test]
fn a_deflate_bomb_storage_is_refused_before_it_is_inflated() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bomb.pth");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("archive/data.pkl", stored).unwrap();
    z.write_all(&tensor_pickle(0, 4, 1)).unwrap();
    // 128 MiB of zeros, deflated to about 128 KB.
    let deflated = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    z.start_file("archive/data/0", deflated).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..128 {
        z.write_all(&zeros).unwrap();
    }
    z.finish().unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() < 4 << 20);
    let err = weights::load(&path).unwrap_err().to_string();
    assert!(err.contains("zip bomb") && err.contains("bomb.pth"), "{err}");
}

#[test]
fn damaged_safetensors_are_described_in_words() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.safetensors");
    weights::save(
        &good,
        &[("w".to_string(), tch::Tensor::ones([64], (tch::Kind::Float, tch::Device::Cpu)))].into_iter().collect(),
    )
    .unwrap();
    let bytes = std::fs::read(&good).unwrap();
    for (name, cut, says) in [("short.safetensors", 60, "truncated"), ("tiny.safetensors", 12, "header")] {
        let path = tmp.path().join(name);
        std::fs::write(&path, &bytes[..cut.min(bytes.len() - 1)]).unwrap();
        let err = weights::load(&path).unwrap_err().to_string();
        assert!(
            err.contains(name) && err.contains(says) && !err.contains("Buffer") && !err.contains("Length"),
            "{err}"
        );
    }
}
