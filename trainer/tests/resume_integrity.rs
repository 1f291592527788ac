//! A resume point changed on disk after it was written (one flipped bit) is refused, naming the file, instead of
//! resuming silently into other weights.
mod common;
use common::{setup, train};

#[test]
fn a_flipped_bit_in_the_resume_point_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    let out = tmp.path().join("run");
    let args = ["--max-steps", "2"];
    let o = train(&packs, &classes, &out, &args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = out.join("checkpoints/resume");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() - 1000; // inside the tensor data, past the header: still a valid safetensors file
    bytes[at] ^= 0x10;
    std::fs::write(&file, &bytes).unwrap();
    let o = train(&packs, &classes, &out, &["--resume", "--max-steps", "4"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "resumed from a damaged file");
    assert!(err.contains("checksum") && err.contains(&*file.file_name().unwrap().to_string_lossy()), "{err}");
    // Restored, it resumes.
    bytes[at] ^= 0x10;
    std::fs::write(&file, &bytes).unwrap();
    let o = train(&packs, &classes, &out, &["--resume", "--max-steps", "4"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
