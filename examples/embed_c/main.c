/*
 * Embedding Valk in a C program: start a runtime, define a Valk function
 * and call it with C values, register C callbacks that Valk code uses,
 * handle errors, shut down. scripts/embed-c.sh builds and runs it and
 * compares its output with expected.txt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valk.h"

/* Evaluates `code`; prints and exits on failure. The caller frees the
 * result. */
static valk_value_t *eval(valk_state_t *st, const char *code) {
    valk_value_t *result = NULL;
    if (valk_eval_string(st, code, &result) != 0) {
        fprintf(stderr, "eval failed: %s\n", valk_error_message(result));
        exit(1);
    }
    return result;
}

/* Evaluates `code` for its effect only (definitions). */
static void run(valk_state_t *st, const char *code) {
    valk_value_free(eval(st, code));
}

/* (c-mean x ...): the mean of its numbers, or an error. Callbacks may run
 * on several worker threads at once: this one touches no shared state. */
static valk_value_t *c_mean(valk_value_t **args, size_t n, void *userdata) {
    double sum = 0.0;
    size_t i;
    (void)userdata;
    if (n == 0) {
        return valk_from_error("c-mean: no numbers");
    }
    for (i = 0; i < n; i++) {
        if (valk_is_error(args[i])) {
            return valk_from_error("c-mean: an argument is an error");
        }
        sum += valk_to_double(args[i]);
    }
    /* The runtime takes over (and frees) the returned value. */
    return valk_from_double(sum / (double)n);
}

/* (c-greet name): "<greeting>, <name>!", the greeting from userdata (read
 * only, so thread-safe). The argument handles belong to the runtime: read
 * them, never free them. */
static valk_value_t *c_greet(valk_value_t **args, size_t n, void *userdata) {
    const char *greeting = userdata;
    const char *name;
    char buf[256];
    if (n != 1) {
        return valk_from_error("c-greet: expected one name");
    }
    name = valk_to_string(args[0]);
    snprintf(buf, sizeof buf, "%s, %s!", greeting, name);
    return valk_from_string(buf);
}

int main(void) {
    static const char greeting[] = "Hello";
    valk_state_t *st;
    valk_value_t *args[2];
    valk_value_t *v;
    valk_value_t *kept;

    st = valk_init();
    if (st == NULL) {
        fprintf(stderr, "valk_init failed\n");
        return 1;
    }

    /* A Valk function, called with C values. */
    run(st, "(fun {norm2 x y} {+ (* x x) (* y y)})");
    args[0] = valk_from_long(3);
    args[1] = valk_from_double(4.0);
    v = valk_call(st, "norm2", args, 2);
    printf("norm2 3 4.0 = %s (as a double: %g)\n", valk_to_string(v),
           valk_to_double(v));
    valk_value_free(v);
    valk_value_free(args[0]);
    valk_value_free(args[1]);

    /* Strings go in and out as UTF-8. */
    args[0] = valk_from_string("na\xc3\xafve caf\xc3\xa9");
    v = valk_call(st, "string/upper", args, 1);
    printf("string/upper: %s\n", valk_to_string(v));
    valk_value_free(v);
    valk_value_free(args[0]);

    /* C callbacks, used from Valk code. */
    if (valk_register_c_function(st, "c-mean", c_mean, NULL) != 0 ||
        valk_register_c_function(st, "c-greet", c_greet, (void *)greeting) != 0) {
        fprintf(stderr, "valk_register_c_function failed\n");
        return 1;
    }
    v = eval(st, "(c-mean 1 2 3 4)");
    printf("(c-mean 1 2 3 4) = %g\n", valk_to_double(v));
    valk_value_free(v);
    v = eval(st, "(map c-greet {\"Ada\" \"Grace\"})");
    printf("greetings: %s\n", valk_to_string(v));
    valk_value_free(v);
    run(st, "(fun {mean-square xs} {unpack c-mean (map (\\ {x} {* x x}) xs)})");
    v = eval(st, "(mean-square {1 2 3})");
    printf("(mean-square {1 2 3}) = %.4f\n", valk_to_double(v));
    valk_value_free(v);

    /* Errors: a callback's error value becomes a Valk error, located. */
    if (valk_eval_string(st, "(c-mean)", &v) != 0) {
        printf("error, as expected: %s\n", valk_error_message(v));
    }
    valk_value_free(v);
    /* Valk code can catch it. */
    v = eval(st, "(try {c-mean} (\\ {e} {:recovered}))");
    printf("caught: %s\n", valk_to_string(v));
    valk_value_free(v);
    /* valk_call reports errors as error values, never NULL. */
    v = valk_call(st, "c-greet", NULL, 0);
    if (valk_is_error(v)) {
        printf("valk_call failed: %s\n", valk_error_message(v));
    }
    valk_value_free(v);

    /* Values do not depend on the state: this one outlives it. */
    kept = eval(st, "{1 \"two\" 3.0 :four}");
    valk_shutdown(st);
    printf("after shutdown: %s\n", valk_to_string(kept));
    valk_value_free(kept);
    return 0;
}
