%% The Erlang/OTP anchors of benches/supervision: supervisor + gen_server.
%% Run: erlc sup_bench.erl && erl -noshell -s sup_bench main restart -s erlang halt
%% Each prints the in-process time per operation (VM boot excluded).
-module(sup_bench).
-behaviour(supervisor).
-behaviour(gen_server).
-export([main/1, init/1, handle_call/3, handle_cast/2, start_child/0]).

main([W]) ->
    logger:set_primary_config(level, none),
    run(atom_to_list(W)).

run("restart") ->
    N = 20000,
    {ok, Sup} = supervisor:start_link(?MODULE, sup),
    T0 = erlang:monotonic_time(microsecond),
    cycles(Sup, N),
    T = erlang:monotonic_time(microsecond) - T0,
    io:format("restart: ~.3f us per crash-to-answer cycle; ~p cycles~n", [T / N, N]);
run("call") ->
    N = 200000,
    {ok, Srv} = gen_server:start(?MODULE, srv, []),
    calls(Srv, 1000),
    T0 = erlang:monotonic_time(microsecond),
    calls(Srv, N),
    T = erlang:monotonic_time(microsecond) - T0,
    io:format("call: ~.3f us per gen_server:call round trip; ~p calls~n", [T / N, N]).

child(Sup) -> [{s, Pid, _, _}] = supervisor:which_children(Sup), Pid.

await_new(Sup, Old) ->
    case child(Sup) of
        Pid when is_pid(Pid), Pid =/= Old -> gen_server:call(Pid, ping);
        _ -> await_new(Sup, Old)
    end.

cycles(_, 0) -> ok;
cycles(Sup, N) ->
    C = child(Sup),
    gen_server:cast(C, crash),
    await_new(Sup, C),
    cycles(Sup, N - 1).

calls(_, 0) -> ok;
calls(Srv, N) -> gen_server:call(Srv, N), calls(Srv, N - 1).

start_child() -> gen_server:start_link(?MODULE, srv, []).

%% supervisor
init(sup) ->
    {ok, {#{strategy => one_for_one, intensity => 1000000000, period => 1},
          [#{id => s, start => {?MODULE, start_child, []}}]}};
%% gen_server
init(srv) -> {ok, 0}.

handle_call(Req, _From, St) -> {reply, Req, St}.
handle_cast(crash, _St) -> exit(crash).
