//! Evaluate a file form by form, printing each value: `cargo run -p valk-lang --example run FILE`.
fn main() {
    let path = std::env::args().nth(1).unwrap_or_default();
    let src = std::fs::read_to_string(&path).unwrap_or_default();
    let mut it = valk_lang::Interp::new();
    match valk_lang::reader::read_all(&src, &path) {
        Ok(forms) => {
            for f in &forms {
                match it.eval_form(f) {
                    Ok(v) => println!("{}", it.repr(v)),
                    Err(e) => println!("{e}"),
                }
            }
        }
        Err(e) => println!("{e}"),
    }
}
