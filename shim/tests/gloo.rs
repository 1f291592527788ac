//! Two ranks in one process (two threads), Gloo on loopback: the collectives and the store do what they say.
use froster_shim::{Backend, Group};
use std::time::Duration;
use tch::{Kind, Tensor};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn on_two_ranks<T: Send + 'static>(f: impl Fn(Group) -> T + Send + Sync + Copy + 'static) -> Vec<T> {
    let port = free_port();
    let handles: Vec<_> = (0..2)
        .map(|rank| {
            std::thread::spawn(move || {
                let g = Group::new(Backend::Gloo, "127.0.0.1", port, rank, 2, Duration::from_secs(30)).unwrap();
                f(g)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn allreduce_broadcast_barrier_and_store() {
    let out = on_two_ranks(|g| {
        let r = g.rank() as f64;
        // Two tensors at once, one of them large enough to span several of Gloo's chunks.
        let a = Tensor::from_slice(&[1.0f32 + r as f32, 10.0 * r as f32]);
        let b = Tensor::ones([300_000], (Kind::Float, tch::Device::Cpu)) * (r + 1.0);
        g.allreduce_sum(&[&a, &b]).unwrap();
        let c = Tensor::from_slice(&[r as f32 + 5.0; 3]);
        g.broadcast(&[&c], 1).unwrap();
        g.barrier().unwrap();
        g.store_set(&format!("k{}", g.rank()), &[g.rank() as u8; 3]).unwrap();
        g.barrier().unwrap();
        let other = g.store_get(&format!("k{}", 1 - g.rank())).unwrap();
        let missing = g.store_get("never-set").unwrap();
        (
            Vec::<f32>::try_from(&a).unwrap(),
            b.sum(Kind::Double).double_value(&[]),
            Vec::<f32>::try_from(&c).unwrap(),
            other,
            missing,
        )
    });
    for (rank, (a, b, c, other, missing)) in out.into_iter().enumerate() {
        assert_eq!(a, vec![3.0, 10.0], "rank {rank}: 1+2 and 0+10");
        assert_eq!(b, 300_000.0 * 3.0, "rank {rank}");
        assert_eq!(c, vec![6.0; 3], "rank {rank}: rank 1's values");
        assert_eq!(other, Some(vec![(1 - rank) as u8; 3]));
        assert_eq!(missing, None);
    }
}

#[test]
fn a_bad_rank_or_an_unreachable_store_is_an_error_not_a_hang() {
    let e = Group::new(Backend::Gloo, "127.0.0.1", free_port(), 3, 2, Duration::from_secs(5)).err().unwrap();
    assert!(e.to_string().contains("rank 3 of 2"), "{e}");
    // Rank 1 with no rank 0 hosting the store: refused within the timeout.
    let t = std::time::Instant::now();
    let e = Group::new(Backend::Gloo, "127.0.0.1", free_port(), 1, 2, Duration::from_secs(2)).err().unwrap();
    assert!(t.elapsed() < Duration::from_secs(30), "took {:?}", t.elapsed());
    assert!(e.to_string().contains("cannot join"), "{e}");
}
