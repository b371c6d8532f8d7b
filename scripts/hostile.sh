#!/usr/bin/env bash
# Runs the `valk` binary on hostile inputs under a memory limit (ulimit -v)
# and checks that no run ends with a signal (status >= 128, other than 141
# for a closed pipe), hangs, or prints "panicked" (issue 9). Cases with an
# expected status check it too. Prints one line per case and a summary;
# exits 1 if any case failed.
#
# Usage: scripts/hostile.sh [--release] [CASE-NAME-SUBSTRING...]
#   VALK=path/to/valk     the binary (default: target/debug/valk, built if
#                         missing; --release: target/release/valk)
#   HOSTILE_MEM_KIB=N     the address-space limit (default 2 GiB)
#   HOSTILE_TIMEOUT=S     seconds before a case counts as hung (default 120)
#
# The figures it prints (wall time of the starvation and busy-exit cases)
# are measurements, not checks.
set -uo pipefail
cd "$(dirname "$0")/.."

profile=debug
filters=()
for arg in "$@"; do
    case "$arg" in
        --release) profile=release ;;
        -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
        *) filters+=("$arg") ;;
    esac
done

VALK=${VALK:-target/$profile/valk}
if [[ ! -x $VALK ]]; then
    if [[ $profile == release ]]; then
        cargo build --release --bin valk || exit 1
    else
        cargo build --bin valk || exit 1
    fi
fi
VALK=$(realpath "$VALK")
MEM_KIB=${HOSTILE_MEM_KIB:-2097152}
TIMEOUT=${HOSTILE_TIMEOUT:-120}
# Two workers: the address space each reserves for actor stacks stays well
# under the limit. (A bad VALK_SCHEDULERS is one of the cases.)
export VALK_SCHEDULERS=2

WORK=$(mktemp -d "${TMPDIR:-/tmp}/valk-hostile.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
failures=()

# case NAME EXPECTED-STATUS SNIPPET
# Runs SNIPPET (bash; its status must be valk's) in $WORK under the memory
# limit and the timeout. EXPECTED-STATUS is a number or `-` (any status
# that is not a crash).
case_() {
    local name=$1 expected=$2 snippet=$3
    if ((${#filters[@]})); then
        local f keep=0
        for f in "${filters[@]}"; do [[ $name == *"$f"* ]] && keep=1; done
        ((keep)) || return 0
    fi
    local out="$WORK/$name.out" err="$WORK/$name.err" status started ended
    started=$(date +%s%N)
    # The outer redirection silences the shell's own "Segmentation fault"
    # notice: the case's line reports it.
    {
        (
            ulimit -v "$MEM_KIB"
            cd "$WORK" || exit 99
            VALK=$VALK timeout -k 5 "$TIMEOUT" bash -c "$snippet"
        ) >"$out" 2>"$err" </dev/null
    } 2>/dev/null
    status=$?
    ended=$(date +%s%N)
    local ms=$(((ended - started) / 1000000)) why=""
    if ((status == 124)); then
        why="hung (over ${TIMEOUT}s)"
    elif ((status >= 128 && status != 141)); then
        why="ended by signal $((status - 128))"
    elif grep -q "panicked" "$err" "$out" 2>/dev/null; then
        why="panicked"
    elif [[ $expected != - && $status != "$expected" ]]; then
        why="status $status, expected $expected"
    fi
    if [[ -z $why ]]; then
        passed=$((passed + 1))
        printf 'ok    %-34s status %3d  %6d ms\n' "$name" "$status" "$ms"
    else
        failed=$((failed + 1))
        failures+=("$name: $why")
        printf 'FAIL  %-34s %s  %6d ms\n' "$name" "$why" "$ms"
        head -c 300 "$err" | sed 's/^/      | /'
    fi
}

# ---- inputs --------------------------------------------------------------
nest() { python3 -c "import sys; d=int(sys.argv[1]); print(sys.argv[2]*d + sys.argv[3]*d)" "$@"; }
nest 400 '(' ')' >"$WORK/nest400.valk"
nest 1000000 '(' ')' >"$WORK/nest1m.valk"
nest 1000000 '{' '}' >"$WORK/braces1m.valk"
python3 -c "print('s'*(16<<20))" >"$WORK/huge_symbol.valk"
python3 -c "print('(print (len \"' + 'x'*(64<<20) + '\"))')" >"$WORK/huge_string.valk"
mkfifo "$WORK/fifo.valk"
mkdir -p "$WORK/fifo_tests" "$WORK/loop_tests"
mkfifo "$WORK/fifo_tests/test_x.valk"
echo '(test/define "ok" {true})' >"$WORK/fifo_tests/test_ok.valk"
ln -s "$WORK/loop_tests" "$WORK/loop_tests/loop"
echo '(test/define "ok" {true})' >"$WORK/loop_tests/test_ok.valk"
for i in $(seq 0 200); do echo "(test/define \"t$i\" {true})"; done >"$WORK/fifo_tests/test_many.valk"
truncate -s 300M "$WORK/sparse.valk"
printf '\xff\xfe\x00\x80' >"$WORK/binary.valk"
cat >"$WORK/read_forms_deep.valk" <<'EOF'
(def {text} (read-file "nest1m.valk"))
(def {pm} (spawn-monitor (\ {} {read-forms text})))
(receive {{:DOWN _ _ _} (print :child-done)})
(print :main-alive)
EOF
cat >"$WORK/runtime_deep.valk" <<'EOF'
(fun {wrap n x} {if (== n 0) {x} {wrap (- n 1) (list x)}})
(def {deep} (wrap 1000000 1))
(try {eval deep} {\ {e} {print :eval-error}})
(try {== deep deep} {\ {e} {print :eq-error}})
(try {repr deep} {\ {e} {print :print-error}})
(try {send (self) deep} {\ {e} {print :send-error}})
(print :alive)
EOF
cat >"$WORK/deep_recursion.valk" <<'EOF'
(fun {down n} {if (== n 0) {0} {+ 1 (down (- n 1))}})
(print (error-message (try {down 10000000} {\ {e} {e}})))
EOF
cat >"$WORK/grow_child.valk" <<'EOF'
(def {pm} (spawn-monitor (\ {} {do (fun {grow xs} {grow (join xs xs {1})}) (grow {1})})))
(receive {{:DOWN _ _ why} (print :child-died why)})
(print :main-alive)
EOF
cat >"$WORK/flood_child.valk" <<'EOF'
(def {pm} (spawn-monitor (\ {} {do (fun {flood} {do (send (self) (range 0 1000)) (flood)}) (flood)})))
(receive {{:DOWN _ _ why} (print :child-died why)})
(print :main-alive)
EOF
cat >"$WORK/flood_main.valk" <<'EOF'
(fun {flood} {do (send (self) (range 0 1000)) (flood)})
(flood)
EOF
cat >"$WORK/spawn_flood.valk" <<'EOF'
(fun {spawn-n n} {if (== n 0) {:done} {do (spawn (\ {} {receive {:go :ok}})) (spawn-n (- n 1))}})
(print (spawn-n 200000))
EOF
cat >"$WORK/defs.valk" <<'EOF'
(fun {loop n} {if (== n 0) {:done} {do (def {g} (range 0 51)) (loop (- n 1))}})
(print (loop 2000000))
EOF
cat >"$WORK/unpack.valk" <<'EOF'
(fun {loop n} {if (== n 0) {:done} {do (unpack + (list n 1)) (loop (- n 1))}})
(print (loop 1000000))
EOF
cat >"$WORK/eval_loop.valk" <<'EOF'
(fun {loop n} {if (== n 0) {:done} {eval (list loop (- n 1))}})
(print (loop 1000000))
EOF
cat >"$WORK/eval_compiled.valk" <<'EOF'
(def {six} (read-forms "(* 2 3)"))
(fun {loop n} {if (== n 0) {:done} {do (eval (cons + (cons n six))) (loop (- n 1))}})
(print (loop 1000000))
EOF
cat >"$WORK/def_past_limit.valk" <<'EOF'
(spawn-monitor (\ {} {do (= {l} (range 0 20000000)) (def {x} l)}))
(receive {{:DOWN r p why} (print :def why)})
(print :main-alive)
EOF
cat >"$WORK/text_amplification.valk" <<'EOF'
(fun {dbl s n} {if (== n 0) {s} {dbl (str s s) (- n 1)}})
(def {big} (dbl "x" 20))
(spawn-monitor (\ {} {string/replace big "x" big}))
(receive {{:DOWN r p why} (print :replace)})
(spawn-monitor (\ {} {len (string/join (map (\ {i} {big}) (range 0 3000)) "")}))
(receive {{:DOWN r p why} (print :join)})
(spawn-monitor (\ {} {len (repr (map (\ {i} {big}) (range 0 3000)))}))
(receive {{:DOWN r p why} (print :repr)})
(print :main-alive)
EOF
cat >"$WORK/big_builtins_child.valk" <<'EOF'
(spawn-monitor (\ {} {len (join (range 0 50000000) (range 0 50000000))}))
(receive {{:DOWN r p why} (print :join why)})
(spawn-monitor (\ {} {len (str (range 0 50000000))}))
(receive {{:DOWN r p why} (print :str why)})
(print :main-alive)
EOF
cat >"$WORK/starve.valk" <<'EOF'
(def {big} (range 0 30000))
(spawn (\ {} {do (fun {spin} {do (sort (reverse big)) (spin)}) (spin)}))
(def {t0} (time-us))
(sleep 10)
(print "sleep 10 took ms:" (/ (- (time-us) t0) 1000))
EOF
cat >"$WORK/busy_exit.valk" <<'EOF'
(spawn (\ {} {len (sort (reverse (range 0 3000000)))}))
(sleep 100)
(exit 0)
EOF
cat >"$WORK/print_loop.valk" <<'EOF'
(map (\ {x} {print x}) (range 0 1000000))
EOF

# ---- the cases -----------------------------------------------------------
# Deep nesting (bounded recursion).
case_ nest_400_file - '"$VALK" run nest400.valk'
case_ nest_1m_file - '"$VALK" run nest1m.valk'
case_ braces_1m_file - '"$VALK" run braces1m.valk'
case_ nest_400_eval - '"$VALK" eval "$(cat nest400.valk)"'
case_ nest_1m_repl - '"$VALK" repl <nest1m.valk'
case_ nest_1m_read_forms_actor - '"$VALK" run read_forms_deep.valk'
case_ runtime_deep_1m - '"$VALK" run runtime_deep.valk'
case_ deep_recursion_10m - '"$VALK" run deep_recursion.valk'
# Memory (containment).
case_ grow_list_in_child - '"$VALK" run grow_child.valk'
case_ flood_mailbox_in_child - '"$VALK" run flood_child.valk'
case_ flood_mailbox_in_main - '"$VALK" run flood_main.valk'
case_ spawn_flood - '"$VALK" run spawn_flood.valk'
case_ huge_symbol - '"$VALK" run huge_symbol.valk'
case_ huge_string - '"$VALK" run huge_string.valk'
case_ big_builtins_in_child 0 '"$VALK" run big_builtins_child.valk'
case_ text_amplification_in_child 0 '"$VALK" run text_amplification.valk'
case_ def_past_the_limit_in_child 0 '"$VALK" run --max-memory 700M def_past_limit.valk'
# Reclamation (constant memory under the limit).
case_ defs_2m 0 '"$VALK" run defs.valk'
case_ unpack_1m 0 '"$VALK" run unpack.valk'
case_ eval_loop_1m 0 '"$VALK" run eval_loop.valk'
case_ eval_compiled_1m 0 '"$VALK" run eval_compiled.valk'
# Fairness and exit (figures in the output files; checked: no crash).
case_ starvation_one_scheduler 0 '"$VALK" run --schedulers 1 starve.valk'
case_ exit_with_busy_actor 0 '"$VALK" run busy_exit.valk'
# Closed and full output.
case_ closed_pipe_eval 141 '"$VALK" eval "(range 0 100000)" | head -c5 >/dev/null; exit ${PIPESTATUS[0]}'
case_ closed_pipe_run 141 '"$VALK" run print_loop.valk | head -1 >/dev/null; exit ${PIPESTATUS[0]}'
case_ closed_pipe_test 141 '"$VALK" test fifo_tests/test_many.valk fifo_tests/test_many.valk | head -1 >/dev/null; exit ${PIPESTATUS[0]}'
case_ closed_pipe_repl 141 'yes "(range 0 1000)" | "$VALK" repl | head -1 >/dev/null; exit ${PIPESTATUS[1]}'
case_ full_output_eval 1 '"$VALK" eval "+ 1 1" >/dev/full'
case_ full_output_print 1 '"$VALK" run print_loop.valk >/dev/full'
case_ closed_stderr - '"$VALK" eval "(car 1)" 2>&-'
case_ full_stderr 1 '"$VALK" eval "(undefined)" 2>/dev/full'
# Hostile source files.
case_ dev_zero 1 '"$VALK" run /dev/zero'
case_ dev_urandom 1 '"$VALK" run /dev/urandom'
case_ fifo_run 1 '"$VALK" run fifo.valk'
case_ fifo_in_test_dir 1 '"$VALK" test fifo_tests'
case_ symlink_loop_test_dir 0 '"$VALK" test loop_tests'
case_ directory_run 1 '"$VALK" run .'
case_ sparse_300mb 1 '"$VALK" run sparse.valk'
case_ binary_file 1 '"$VALK" run binary.valk'
case_ read_file_dev_zero 1 '"$VALK" eval "(read-file \"/dev/zero\")"'
# Bad configuration.
case_ schedulers_env_5000 1 'VALK_SCHEDULERS=5000 "$VALK" eval 1'
case_ schedulers_env_abc 1 'VALK_SCHEDULERS=abc "$VALK" eval 1'
case_ schedulers_env_negative 1 'VALK_SCHEDULERS=-3 "$VALK" eval 1'
case_ schedulers_env_zero 1 'VALK_SCHEDULERS=0 "$VALK" eval 1'
case_ schedulers_flag_5000 2 '"$VALK" eval --schedulers 5000 1'
# Exit statuses.
case_ exit_256 1 '"$VALK" eval "(exit 256)"'
case_ exit_2_pow_32 1 '"$VALK" eval "(exit 4294967296)"'
case_ exit_minus_256 1 '"$VALK" eval "(exit -256)"'
case_ shutdown_in_child 3 '"$VALK" eval "(do (spawn (\\ {} {shutdown 3})) (sleep 60000))"'
case_ exit_self_kill 1 '"$VALK" eval "(do (exit (self) :kill) (print :after))"'
case_ pin_unbound 1 '"$VALK" eval "(match 1 {^undefined :m} {x x})"'

echo
[[ -s $WORK/starvation_one_scheduler.out ]] &&
    echo "figure: starvation_one_scheduler: $(tail -1 "$WORK/starvation_one_scheduler.out")"
[[ -f $WORK/exit_with_busy_actor.out ]] &&
    echo "figure: exit_with_busy_actor: its wall time above (the busy child alone takes seconds)"
echo
echo "$passed passed, $failed failed (memory limit ${MEM_KIB} KiB, timeout ${TIMEOUT}s, $VALK)"
if ((failed)); then
    printf '  %s\n' "${failures[@]}"
    exit 1
fi
