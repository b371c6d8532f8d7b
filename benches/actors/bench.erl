%% Anchor programs for the actor workloads of BENCHMARKS.md (Erlang/OTP).
%% Run: erlc bench.erl && erl -noshell -s bench main WORKLOAD -s erlang halt
%% Each prints "WORKLOAD: <in-process time>" so VM boot is excluded.
-module(bench).
-export([main/1]).

main([W]) ->
    Name = atom_to_list(W),
    {T, Detail} = run(Name),
    io:format("~s: ~s (~p ms total)~n", [Name, Detail, T div 1000]).

time(F) -> {T, R} = timer:tc(F), {T, R}.

run("spawn") ->
    N = 1000000,
    process_flag(message_queue_data, off_heap),
    Parent = self(),
    {T, _} = time(fun() ->
        [spawn(fun() -> Parent ! done end) || _ <- lists:seq(1, N)],
        [receive done -> ok end || _ <- lists:seq(1, N)]
    end),
    {T, io_lib:format("~.3f us/actor", [T / N])};
run("skynet") ->
    Self = self(),
    {T, R} = time(fun() ->
        spawn(fun() -> skynet(Self, 0, 1000000, 10) end),
        receive S -> S end
    end),
    {T, io_lib:format("sum ~p in ~p ms", [R, T div 1000])};
run("ring") ->
    N = 10000, Rounds = 100,
    {T, _} = time(fun() -> ring(N, Rounds) end),
    {T, io_lib:format("~.1f ns/hop", [T * 1000 / (N * Rounds)])};
run("pingpong") ->
    N = 1000000,
    {T, _} = time(fun() ->
        Pong = spawn(fun pong/0),
        ping(Pong, N)
    end),
    {T, io_lib:format("~.1f ns/round trip", [T * 1000 / N])};
run("fanin") ->
    S = 1000, M = 1000,
    process_flag(message_queue_data, off_heap),
    Parent = self(),
    {T, _} = time(fun() ->
        [spawn(fun() -> [Parent ! {msg, I} || I <- lists:seq(1, M)] end) || _ <- lists:seq(1, S)],
        drain(S * M)
    end),
    {T, io_lib:format("~.1f ns/message", [T * 1000 / (S * M)])};
run("idle") ->
    N = 100000,
    process_flag(message_queue_data, off_heap),
    erlang:garbage_collect(),
    Before = erlang:memory(total),
    Pids = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, N)],
    After = erlang:memory(total),
    [P ! stop || P <- Pids],
    {0, io_lib:format("~p bytes/actor", [(After - Before) div N])}.

skynet(Parent, Num, 1, _) -> Parent ! Num;
skynet(Parent, Num, Size, Div) ->
    Self = self(), Sub = Size div Div,
    [spawn(fun() -> skynet(Self, Num + I * Sub, Sub, Div) end) || I <- lists:seq(0, Div - 1)],
    Parent ! sum(Div, 0).
sum(0, Acc) -> Acc;
sum(K, Acc) -> receive X -> sum(K - 1, Acc + X) end.

ring(N, Rounds) ->
    Self = self(),
    First = lists:foldl(fun(_, Next) -> spawn(fun() -> relay(Next) end) end, Self, lists:seq(1, N - 1)),
    First ! {token, N * Rounds - 1},
    ring_main(First).
ring_main(First) ->
    receive
        {token, 0} -> ok;
        {token, K} -> First ! {token, K - 1}, ring_main(First)
    end.
relay(Next) ->
    receive
        {token, 0} -> Next ! {token, 0};
        {token, K} -> Next ! {token, K - 1}, relay(Next)
    end.

pong() -> receive {ping, From} -> From ! pong, pong(); stop -> ok end.
ping(Pong, 0) -> Pong ! stop;
ping(Pong, K) -> Pong ! {ping, self()}, receive pong -> ping(Pong, K - 1) end.

drain(0) -> ok;
drain(K) -> receive {msg, _} -> drain(K - 1) end.
