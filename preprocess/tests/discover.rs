//! `froster-pack build ROOT` with no list: each dataset layout, built from the shared videos, gives the
//! expected lists, labels, class names and counts; conflicts are clear errors.
mod common;
use common::*;
use froster_loader::PackReader;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A short real video of each container the shared folder has: (mp4, avi).
fn sources() -> (PathBuf, PathBuf) {
    let names = video_names();
    let mp4 = names.iter().find(|n| n.contains("short")).or(names.iter().find(|n| n.ends_with(".mp4"))).unwrap();
    let avi = names.iter().find(|n| n.ends_with(".avi")).unwrap_or(mp4);
    (videos_dir().join(mp4), videos_dir().join(avi))
}

fn put(root: &Path, rel: &str, from: &Path) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::copy(from, &p).unwrap();
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn pack_cli(cwd: &Path, args: &[&str]) -> Output {
    let out =
        Command::new(env!("CARGO_BIN_EXE_froster-pack")).current_dir(cwd).arg("--quiet").args(args).output().unwrap();
    out
}

/// `froster-pack build ROOT` run bare in `cwd`: its stdout and the lists of `packs/<ROOT's name>` as
/// list -> sorted (video id, label).
fn build_bare(cwd: &Path, root: &Path, extra: &[&str]) -> (String, BTreeMap<String, Vec<(String, i64)>>) {
    let mut args = vec!["build", root.to_str().unwrap(), "--short-side", "48", "--workers", "2"];
    args.extend(extra);
    let out = pack_cli(cwd, &args);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let pack = cwd.join("packs").join(root.file_name().unwrap());
    assert!(text.contains(&format!("into {}", Path::new("packs").join(root.file_name().unwrap()).display())), "{text}");
    let r = PackReader::open(&pack).unwrap();
    let lists = r
        .manifest()
        .lists
        .iter()
        .map(|(name, items)| {
            let mut v: Vec<(String, i64)> = items.iter().map(|(i, l)| (r.video(*i as usize).id.clone(), *l)).collect();
            v.sort();
            (name.clone(), v)
        })
        .collect();
    (text, lists)
}

fn classes_json(cwd: &Path, root: &Path) -> Option<Vec<String>> {
    let file = cwd.join("packs").join(root.file_name().unwrap()).join("classes.json");
    let text = std::fs::read_to_string(file).ok()?;
    let map: BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
    let mut v: Vec<(usize, String)> = map.into_iter().map(|(k, v)| (k.parse().unwrap(), v)).collect();
    v.sort();
    Some(v.into_iter().map(|(_, c)| c).collect())
}

fn items(v: &[(&str, i64)]) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = v.iter().map(|(p, l)| (p.to_string(), *l)).collect();
    v.sort();
    v
}

#[test]
fn kinetics_folders_with_annotations_in_both_file_name_styles() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("k400");
    let (mp4, _) = sources();
    write(&root, "annotations/train.csv", "label,youtube_id,time_start,time_end,split\narm wrestling,aaa_x,10,20,train\nabseiling,bbb,0,10,train\nabseiling,gone,0,10,train\n");
    write(
        &root,
        "annotations/validate.csv",
        "label,youtube_id,time_start,time_end,split\n\"arm wrestling\",ccc,0,10,validate\n",
    );
    write(&root, "annotations/test.csv", "youtube_id,time_start,time_end,split\nddd,0,10,test\n");
    put(&root, "train/arm_wrestling/aaa_x_000010_000020.mp4", &mp4);
    put(&root, "train/abseiling/bbb.mp4", &mp4);
    put(&root, "train/abseiling/extra_000000_000010.mp4", &mp4);
    put(&root, "val/ccc_000000_000010.mp4", &mp4);
    put(&root, "test/ddd_000000_000010.mp4", &mp4);
    let (text, lists) = build_bare(tmp.path(), &root, &[]);
    assert!(text.contains("Kinetics") && text.contains("K400 label map"), "{text}");
    assert_eq!(
        lists["train"],
        items(&[("train/arm_wrestling/aaa_x_000010_000020.mp4", 6), ("train/abseiling/bbb.mp4", 0)])
    );
    assert_eq!(lists["val"], items(&[("val/ccc_000000_000010.mp4", 6)]));
    assert!(!lists.contains_key("test"), "unlabelled test rows are not packed");
    let classes = classes_json(tmp.path(), &root).expect("classes.json");
    assert_eq!((classes.len(), classes[6].as_str()), (400, "arm wrestling"));
    let pack = tmp.path().join("packs/k400");
    let failed = std::fs::read_to_string(pack.join("failed.csv")).unwrap();
    assert!(failed.contains("gone") && failed.lines().count() == 2, "{failed}");
    let unlisted = std::fs::read_to_string(pack.join("unlisted.csv")).unwrap();
    assert_eq!(unlisted.trim(), "train/abseiling/extra_000000_000010.mp4");
    // scan sees the same videos
    let scan = pack_cli(tmp.path(), &["scan", root.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&scan.stdout);
    assert!(text.contains("list train: 2 videos") && text.contains("scanned 4 videos: 3 ok, 1 failed"), "{text}");
}

#[test]
fn kinetics_video_in_the_wrong_class_folder_is_a_conflict() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("kin");
    write(&root, "train.csv", "label,youtube_id,time_start,time_end,split\nabseiling,aaa,0,10,train\n");
    put(&root, "train/archery/aaa.mp4", &sources().0);
    let out = pack_cli(tmp.path(), &["build", root.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("train/archery/aaa.mp4") && err.contains("disagree") && err.contains("abseiling"), "{err}");
}

#[test]
fn ucf101_with_split_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ucf101");
    let (_, avi) = sources();
    for v in [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi",
        "Archery/v_Archery_g01_c01.avi",
    ] {
        put(&root.join("UCF-101"), v, &avi);
    }
    write(&root, "ucfTrainTestlist/classInd.txt", "1 ApplyEyeMakeup\n2 Archery\n");
    write(
        &root,
        "ucfTrainTestlist/trainlist01.txt",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi 1\narchery/v_Archery_g01_c01.avi 2\n",
    );
    write(
        &root,
        "ucfTrainTestlist/testlist01.txt",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\nArchery/v_Archery_g09_c01.avi\n",
    );
    write(&root, "ucfTrainTestlist/trainlist02.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1\n");
    write(&root, "ucfTrainTestlist/testlist02.txt", "Archery/v_Archery_g01_c01.avi\n");
    let (text, lists) = build_bare(tmp.path(), &root, &[]);
    assert!(text.contains("UCF101") && text.contains("split 1"), "{text}");
    assert_eq!(
        lists["train"],
        items(&[("ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi", 0), ("Archery/v_Archery_g01_c01.avi", 1)])
    );
    assert_eq!(lists["test"], items(&[("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", 0)]));
    assert_eq!(classes_json(tmp.path(), &root).unwrap(), ["Apply Eye Makeup", "Archery"]);
    let failed = std::fs::read_to_string(tmp.path().join("packs/ucf101/failed.csv")).unwrap();
    assert!(failed.contains("v_Archery_g09_c01.avi"), "{failed}");
    // --split 2 picks the other lists (same folder: videos already packed are reused)
    let (_, lists) = build_bare(tmp.path(), &root, &["--split", "2", "--out", "packs/ucf101"]);
    assert_eq!(lists["train"], items(&[("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", 0)]));
    // a label that contradicts classInd.txt is a conflict
    write(&root, "ucfTrainTestlist/trainlist01.txt", "Archery/v_Archery_g01_c01.avi 1\n");
    let out = pack_cli(tmp.path(), &["scan", root.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("disagree") && err.contains("v_Archery_g01_c01.avi"), "{err}");
}

#[test]
fn hmdb51_with_split_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hmdb51");
    let (_, avi) = sources();
    for v in ["videos/brush_hair/a.avi", "videos/cartwheel/b.avi", "videos/cartwheel/c.avi", "videos/cartwheel/d.avi"] {
        put(&root, v, &avi);
    }
    write(&root, "splits/brush_hair_test_split1.txt", "a.avi 1 \n");
    write(&root, "splits/cartwheel_test_split1.txt", "b.avi 2\nc.avi 0\nz.avi 1\n");
    let (text, lists) = build_bare(tmp.path(), &root, &[]);
    assert!(text.contains("HMDB51") && text.contains("1 videos are marked unused"), "{text}");
    assert_eq!(lists["train"], items(&[("brush_hair/a.avi", 0)]));
    assert_eq!(lists["test"], items(&[("cartwheel/b.avi", 1)]));
    assert_eq!(classes_json(tmp.path(), &root).unwrap(), ["brush hair", "cartwheel"]);
    let pack = tmp.path().join("packs/hmdb51");
    assert!(std::fs::read_to_string(pack.join("failed.csv")).unwrap().contains("cartwheel/z.avi"));
    assert_eq!(std::fs::read_to_string(pack.join("unlisted.csv")).unwrap().trim(), "cartwheel/d.avi");
}

#[test]
fn ssv2_json_annotations_over_webm() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ssv2");
    let dir = root.join("20bn-something-something-v2");
    std::fs::create_dir_all(&dir).unwrap();
    for id in ["101", "202"] {
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(sources().0)
            .args(["-frames:v", "12", "-vf", "scale=96:-2", "-c:v", "libvpx", "-an"])
            .arg(dir.join(format!("{id}.webm")))
            .status()
            .expect("ffmpeg (installed by scripts/setup.sh)");
        assert!(status.success());
    }
    write(&root, "labels/labels.json", r#"{"Approaching something with your camera": "0", "Holding something": "1"}"#);
    write(
        &root,
        "labels/train.json",
        r#"[{"id": "101", "label": "holding a cup", "template": "Holding [something]", "placeholders": ["a cup"]}]"#,
    );
    write(
        &root,
        "labels/validation.json",
        r#"[{"id": "202", "template": "Approaching [something] with your camera"}, {"id": "303", "template": "Holding [something]"}]"#,
    );
    write(&root, "labels/test.json", r#"[{"id": "404"}]"#);
    let (text, lists) = build_bare(tmp.path(), &root, &[]);
    assert!(text.contains("Something-Something v2"), "{text}");
    assert_eq!(lists["train"], items(&[("101.webm", 1)]));
    assert_eq!(lists["val"], items(&[("202.webm", 0)]));
    assert_eq!(
        classes_json(tmp.path(), &root).unwrap(),
        ["Approaching something with your camera", "Holding something"]
    );
    assert!(std::fs::read_to_string(tmp.path().join("packs/ssv2/failed.csv")).unwrap().contains("303.webm"));
}

#[test]
fn bare_class_folders_with_and_without_split_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let (mp4, avi) = sources();
    let flat = tmp.path().join("mine");
    put(&flat, "run/x.mp4", &mp4);
    put(&flat, "jump/y.avi", &avi);
    put(&flat, "jump/notes.txt", &mp4);
    let (text, lists) = build_bare(tmp.path(), &flat, &[]);
    assert!(text.contains("class folders") && text.contains("every video goes to list 'train'"), "{text}");
    assert_eq!(lists["train"], items(&[("jump/y.avi", 0), ("run/x.mp4", 1)]));
    assert_eq!(classes_json(tmp.path(), &flat).unwrap(), ["jump", "run"]);
    let split = tmp.path().join("split");
    put(&split, "train/pole_vault/a.mp4", &mp4);
    put(&split, "val/high_jump/b.avi", &avi);
    let (_, lists) = build_bare(tmp.path(), &split, &[]);
    assert_eq!(lists["train"], items(&[("train/pole_vault/a.mp4", 1)]));
    assert_eq!(lists["val"], items(&[("val/high_jump/b.avi", 0)]));
    assert_eq!(classes_json(tmp.path(), &split).unwrap(), ["high jump", "pole vault"]);
}

#[test]
fn reference_lists_take_precedence() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ref");
    let (mp4, avi) = sources();
    put(&root, "a/x.mp4", &mp4);
    put(&root, "b/y.avi", &avi);
    put(&root, "c/z.mp4", &mp4);
    write(&root, "train_1.csv", "\u{feff}a/x.mp4,3\n");
    write(&root, "val.csv", "b/y.avi,1\nb/gone.mp4,1\n");
    write(&root, "notes.csv", "not,a,list\n");
    let (text, lists) = build_bare(tmp.path(), &root, &[]);
    assert!(text.contains("reference lists") && text.contains("train_1.csv"), "{text}");
    assert_eq!(lists["train_1"], items(&[("a/x.mp4", 3)]));
    assert_eq!(lists["val"], items(&[("b/y.avi", 1)]));
    assert!(classes_json(tmp.path(), &root).is_none(), "numeric labels: no class names to write");
    let pack = tmp.path().join("packs/ref");
    assert!(std::fs::read_to_string(pack.join("failed.csv")).unwrap().contains("b/gone.mp4"));
    assert_eq!(std::fs::read_to_string(pack.join("unlisted.csv")).unwrap().trim(), "c/z.mp4");
}

#[test]
fn an_empty_folder_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("empty");
    std::fs::create_dir_all(&root).unwrap();
    let out = pack_cli(tmp.path(), &["build", root.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no dataset layout found") && err.contains("--list"), "{err}");
}
