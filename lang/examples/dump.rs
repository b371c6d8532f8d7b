fn main() {
    let src = std::env::args().nth(1).unwrap_or_default();
    let mut it = valk_lang::Interp::new();
    let n0 = valk_lang::code::count();
    let r = it.eval_source(&src, "x.valk");
    println!("{:?}", r.map(|v| it.repr(v)));
    for i in n0..valk_lang::code::count() {
        let p = valk_lang::code::get(i as u32).unwrap();
        println!(
            "== proto {i} nregs={} names={:?}",
            p.meta.nregs, p.meta.names
        );
        for (pc, op) in p.code.iter().enumerate() {
            println!("  {pc:3} {op:?}");
        }
    }
}
