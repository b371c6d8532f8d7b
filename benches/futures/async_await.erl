%% Erlang anchor of benches/futures/async_await.valk: N sequential pairs of
%% "spawn a process that sends 1 + 2 back" + receive (what an async/await
%% pair is in Erlang without Elixir's Task). Prints the in-process time per
%% pair (warm-up and VM boot excluded).
%% Run: erlc async_await.erl && erl -noshell -s async_await main -s erlang halt
-module(async_await).
-export([main/0, main/1]).

main() -> main(['100000']).

main([A]) ->
    N = list_to_integer(atom_to_list(A)),
    pairs(1000),
    T0 = erlang:monotonic_time(microsecond),
    pairs(N),
    T = erlang:monotonic_time(microsecond) - T0,
    io:format("async_await: ~.3f us per spawn+send+receive pair; ~p pairs~n", [T / N, N]).

pairs(0) -> ok;
pairs(N) ->
    Me = self(),
    Pid = spawn(fun() -> Me ! {self(), 1 + 2} end),
    receive {Pid, 3} -> ok end,
    pairs(N - 1).
