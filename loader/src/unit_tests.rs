//! Unit tests of the loader's internals: sharding coverage, augmentation geometry and RNG determinism.
use crate::augment::*;
use crate::dist::{epoch_indices, EpochOrder, Shard};
use crate::rng::Rng;
use crate::sampling::nearest_stored;

fn order(epoch: u64, drop_last: bool) -> EpochOrder {
    EpochOrder { seed: 7, epoch, shuffle: true, drop_last }
}

#[test]
fn shards_are_disjoint_and_cover_the_dataset() {
    for (n, world) in [(10, 3), (17, 4), (8, 8), (5, 1)] {
        let parts: Vec<Vec<usize>> =
            (0..world).map(|rank| epoch_indices(n, order(2, false), Shard { rank, world })).collect();
        let len = parts[0].len();
        assert!(parts.iter().all(|p| p.len() == len), "equal sizes with padding");
        let mut all: Vec<usize> = parts.concat();
        assert_eq!(all.len(), n.div_ceil(world) * world);
        all.sort();
        all.dedup();
        assert_eq!(all, (0..n).collect::<Vec<_>>(), "coverage n={n} world={world}");
        // Without padding (drop_last) the sets are disjoint.
        let dropped: Vec<usize> =
            (0..world).flat_map(|rank| epoch_indices(n, order(2, true), Shard { rank, world })).collect();
        let mut d = dropped.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), dropped.len());
        assert_eq!(dropped.len(), n / world * world);
    }
    assert_ne!(
        epoch_indices(50, EpochOrder { seed: 1, ..order(0, false) }, Shard::default()),
        epoch_indices(50, EpochOrder { seed: 1, ..order(1, false) }, Shard::default()),
        "reshuffled per epoch"
    );
}

#[test]
fn short_side_and_crops_follow_pyslowfast() {
    assert_eq!(short_side_size(340, 256, 224), (297, 224));
    assert_eq!(short_side_size(240, 426, 224), (224, 397));
    let c = test_spatial(340, 256, 224, 224, 1);
    assert_eq!((c.x0, c.y0), (37, 0));
    assert_eq!(test_spatial(340, 256, 224, 224, 0).x0, 0);
    assert_eq!(test_spatial(340, 256, 224, 224, 2).x0, 297 - 224);
    assert_eq!(test_spatial(240, 426, 224, 224, 2).y0, 397 - 224);
    let mut rng = Rng::new(3);
    for _ in 0..200 {
        let s = train_spatial(340, 256, 224, 256, 224, &mut rng);
        assert!((224..=256).contains(&s.scaled_h));
        assert!(s.x0 + 224 <= s.scaled_w && s.y0 + 224 <= s.scaled_h);
    }
}

#[test]
fn resize_of_a_constant_frame_is_constant_and_flip_mirrors() {
    let (w, h) = (40, 30);
    let src: Vec<u8> = (0..w * h).flat_map(|i| [(i % w) as u8 * 6, 100, 50]).collect();
    let s = Spatial { scaled_w: 40, scaled_h: 30, x0: 0, y0: 0, crop: 30, flip: false };
    let mut sc = ResizeScratch::default();
    let mut a = vec![0u8; 30 * 30 * 3];
    apply(Frame::Rgb(&src), &Plan::new(w, h, s), &mut a, &mut sc);
    assert!(a.chunks(3).all(|p| p[1] == 100 && p[2] == 50));
    assert_eq!(a[0], 0);
    let mut b = vec![0u8; 30 * 30 * 3];
    apply(Frame::Rgb(&src), &Plan::new(w, h, Spatial { flip: true, ..s }), &mut b, &mut sc);
    assert_eq!(&b[29 * 3..29 * 3 + 3], &a[..3]);
}

#[test]
fn keep_every_maps_to_the_nearest_stored_frame() {
    assert_eq!(nearest_stored(0, 4, 10), 0);
    assert_eq!(nearest_stored(5, 4, 10), 1);
    assert_eq!(nearest_stored(6, 4, 10), 2);
    assert_eq!(nearest_stored(100, 4, 10), 9);
    assert_eq!(nearest_stored(7, 1, 10), 7);
}

#[test]
fn rng_streams_are_keyed() {
    let a: Vec<u64> = (0..4).map(|_| Rng::keyed(1, 2, 3).next_u64()).collect();
    assert!(a.windows(2).all(|w| w[0] == w[1]));
    assert_ne!(Rng::keyed(1, 2, 3).next_u64(), Rng::keyed(1, 2, 4).next_u64());
    let mut r = Rng::new(9);
    let u: Vec<f64> = (0..1000).map(|_| r.uniform()).collect();
    assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
    let mean = u.iter().sum::<f64>() / 1000.0;
    assert!((mean - 0.5).abs() < 0.05);
}

#[test]
fn list_lines_with_a_negative_label_or_an_empty_path_are_errors() {
    assert_eq!(crate::parse_list("a.mp4,3\n").unwrap(), vec![("a.mp4".to_string(), 3)]);
    assert!(crate::parse_list("a.mp4,-1").unwrap_err().1.contains("negative"));
    assert!(crate::parse_list(" ,2").unwrap_err().1.contains("empty"));
}
