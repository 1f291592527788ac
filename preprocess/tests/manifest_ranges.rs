//! A damaged or hand-edited manifest is an error naming the field, never a panic or a huge allocation: each
//! known bad value, then a seeded mutation loop over every numeric field (seconds, not minutes).
mod common;
use common::*;
use froster_loader::format::PixelFormat;
use froster_loader::{PackReader, Rng};
use serde_json::Value;
use std::path::Path;

fn small_pack(dir: &Path) -> std::path::PathBuf {
    let names = video_names();
    let list = write_list(dir, "train", &[(names[0].clone(), 0), (names[1].clone(), 1)]);
    let out = dir.join("pack");
    froster_pack::build(&options(&videos_dir(), vec![list], &out, 32, PixelFormat::I420)).unwrap();
    out
}

/// The edited manifest re-sealed (its checksum recomputed) when it still parses, so that the range checks behind
/// the checksum are what is tested.
fn sealed(m: &Value) -> Vec<u8> {
    match serde_json::from_value::<froster_loader::format::Manifest>(m.clone()) {
        Ok(mut parsed) => {
            parsed.seal();
            serde_json::to_vec(&parsed).unwrap()
        }
        Err(_) => serde_json::to_vec(m).unwrap(),
    }
}

fn with_manifest(pack: &Path, edit: impl FnOnce(&mut Value)) -> Value {
    let path = pack.join("manifest.json");
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let original = m.clone();
    edit(&mut m);
    std::fs::write(&path, sealed(&m)).unwrap();
    original
}

/// Opens the pack and, when that works, reads every frame of every video: errors are fine, panics are not.
fn open_and_read(pack: &Path) -> Result<(), String> {
    let r = PackReader::open(pack).map_err(|e| e.to_string())?;
    for i in 0..r.videos().len() {
        for f in 0..r.video(i).frames as usize {
            let _ = r.frame_rgb(i, f);
        }
    }
    for name in r.manifest().lists.keys() {
        let _ = r.list_counts(name);
    }
    Ok(())
}

#[test]
fn out_of_range_fields_are_errors_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = small_pack(tmp.path());
    let cases: [(&str, Value, &str); 10] = [
        ("header_frames", Value::from(4_000_000_000u64), "header_frames"),
        ("offset", Value::from(u64::MAX - 3), "offset + bytes"),
        ("width", Value::from(1u64 << 31), "width x height"),
        ("height", Value::from(0), "width x height"),
        ("source_frames", Value::from(4_000_000_000u64), "frames"),
        ("stride", Value::from(0), "stride"),
        ("fps_den", Value::from(0), "fps"),
        ("ticks_per_frame", Value::from(-1.0), "ticks_per_frame"),
        ("shard", Value::from(7), "shard"),
        ("frames", Value::from(u32::MAX), "frames"),
    ];
    for (field, value, says) in cases {
        let original = with_manifest(&pack, |m| m["videos"][0][field] = value.clone());
        let err = open_and_read(&pack).expect_err(field);
        assert!(err.contains(says) && err.contains("manifest.json"), "{field}: {err}");
        with_manifest(&pack, |m| *m = original);
    }
    let original = with_manifest(&pack, |m| m["lists"]["train"][0][0] = Value::from(99));
    let err = open_and_read(&pack).expect_err("list index");
    assert!(err.contains("list 'train' names video 99"), "{err}");
    with_manifest(&pack, |m| *m = original);
    let original = with_manifest(&pack, |m| m["videos"][1]["id"] = m["videos"][0]["id"].clone());
    assert!(open_and_read(&pack).expect_err("duplicate id").contains("appears twice"));
    with_manifest(&pack, |m| *m = original);
    // An edit that is not re-sealed (fps to 0, a label, an id) is refused by the checksum before anything else.
    for (field, value) in [("fps_num", Value::from(0)), ("stride", Value::from(2)), ("id", Value::from("other.mp4"))] {
        let path = pack.join("manifest.json");
        let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let original = m.clone();
        m["videos"][0][field] = value;
        std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
        let err = open_and_read(&pack).expect_err(field);
        assert!(err.contains("checksum does not match") && err.contains("manifest.json"), "{field}: {err}");
        std::fs::write(&path, serde_json::to_vec(&original).unwrap()).unwrap();
    }
    let original = with_manifest(&pack, |m| m["lists"]["train"][0][1] = Value::from(2));
    open_and_read(&pack).expect("a re-sealed label edit opens (the checksum guards against silent edits only)");
    with_manifest(&pack, |m| *m = original);
    let original = with_manifest(&pack, |m| m["version"] = Value::from(1));
    let err = open_and_read(&pack).expect_err("an older pack");
    assert!(err.contains("older froster-pack") && err.contains("rebuild"), "{err}");
    with_manifest(&pack, |m| *m = original);
    open_and_read(&pack).expect("the restored manifest opens");
}

#[test]
fn seeded_mutations_of_numeric_fields_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = small_pack(tmp.path());
    let original = with_manifest(&pack, |_| {});
    let fields = [
        "offset",
        "bytes",
        "frames",
        "source_frames",
        "width",
        "height",
        "fps_num",
        "fps_den",
        "stride",
        "shard",
        "table_crc",
    ];
    let extremes = [0u64, 1, 2, 255, 65_535, 1 << 31, u32::MAX as u64, 1 << 40, u64::MAX / 2, u64::MAX];
    let mut rng = Rng::new(2024);
    let (mut refused, mut opened) = (0, 0);
    for _ in 0..300 {
        let mut m = original.clone();
        for _ in 0..1 + rng.below(3) {
            let v = rng.below(2);
            let field = fields[rng.below(fields.len())];
            let value =
                if rng.below(2) == 0 { extremes[rng.below(extremes.len())] } else { rng.next_u64() >> rng.below(64) };
            let value = if ["offset", "bytes"].contains(&field) { value } else { value.min(u32::MAX as u64) };
            m["videos"][v][field] = Value::from(value);
        }
        std::fs::write(pack.join("manifest.json"), sealed(&m)).unwrap();
        match open_and_read(&pack) {
            Ok(()) => opened += 1,
            Err(_) => refused += 1,
        }
    }
    assert!(refused > 250, "most mutations are refused ({refused} refused, {opened} opened)");
}
