//! Generation throughput (records per side per second), 1 and 2 threads.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use veil_linkage_datagen::{generate, GeneratorConfig};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("generate");
    let n = 200_000u64;
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        g.bench_function(format!("{n}_records_{threads}_threads"), |b| {
            b.iter(|| {
                pool.install(|| {
                    let cfg = GeneratorConfig {
                        records: n,
                        seed: 1,
                        ..Default::default()
                    };
                    generate(
                        &cfg,
                        std::io::sink(),
                        std::io::sink(),
                        std::io::sink(),
                        |_| {},
                    )
                    .unwrap()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
