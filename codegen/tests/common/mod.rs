//! A runtime with the native tier installed, and a way to evaluate source
//! in its main session.

use std::sync::Arc;

use valk_lang::tier::JitMode;
use valk_runtime::{Handle, Job, Options, Outcome};

pub struct Rt {
    pub handle: Handle,
    session: valk_runtime::Session,
}

impl Rt {
    pub fn new(mode: JitMode, schedulers: usize) -> Rt {
        let handle = Handle::start(Options {
            schedulers,
            ..Options::default()
        })
        .expect("runtime starts");
        valk_codegen::install(handle.globals(), mode);
        let session = handle.main_session();
        Rt { handle, session }
    }

    /// The printed value of `text`, or its error.
    pub fn eval(&self, text: &str) -> Result<String, String> {
        let job = Job::Source {
            text: text.to_owned(),
            name: "jit_test.valk".to_owned(),
            line: false,
        };
        self.session
            .request(job, |it, out| match out {
                Outcome::Value(v) => Ok(it.repr(v)),
                Outcome::Error(e) => Err(e.to_string()),
                _ => Err("ended".to_owned()),
            })
            .expect("session answers")
    }

    /// Has the function bound to global `name` been compiled?
    pub fn compiled(&self, name: &str) -> bool {
        self.proto_of(name).is_some_and(|p| p.tier.is_compiled())
    }

    pub fn proto_of(&self, name: &str) -> Option<&'static valk_lang::ir::Proto> {
        let globals: &Arc<valk_lang::Globals> = self.handle.globals();
        let v = globals.get_counted(valk_heap::intern(name))?;
        let (code, _) = valk_heap::SharedReader.closure_parts(v.value())?;
        let (index, _) = valk_lang::code::decode(code)?;
        valk_lang::code::get(index)
    }
}
