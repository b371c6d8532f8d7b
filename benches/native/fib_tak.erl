%% Anchor for the native tier: fib(30) and tak(18, 12, 6) on Erlang/OTP
%% (BEAM's JIT), timed in-process.
%% Run: erlc fib_tak.erl && erl -noshell -s fib_tak main -s erlang halt
-module(fib_tak).
-export([main/0]).

fib(N) when N < 2 -> N;
fib(N) -> fib(N - 1) + fib(N - 2).

tak(X, Y, Z) when Y < X -> tak(tak(X - 1, Y, Z), tak(Y - 1, Z, X), tak(Z - 1, X, Y));
tak(_, _, Z) -> Z.

main() ->
    {T1, R1} = timer:tc(fun() -> fib(30) end),
    io:format("fib(30) = ~p~nfib-us: ~p~n", [R1, T1]),
    {T2, R2} = timer:tc(fun() -> tak(18, 12, 6) end),
    io:format("tak(18,12,6) = ~p~ntak-us: ~p~n", [R2, T2]).
