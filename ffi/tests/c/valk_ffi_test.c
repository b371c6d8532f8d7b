/* A small C library the FFI tests call (built as a shared library by
 * ffi/build.rs): structs by value in and out, nested structs, every
 * scalar width, callbacks, and a function that blocks. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

struct point { int32_t x; int32_t y; };
struct mixed { int8_t tag; double value; int32_t count; };
struct outer { int32_t id; struct point at; float scale; };

int32_t point_sum(struct point p) { return p.x + p.y; }
struct point point_make(int32_t x, int32_t y) { struct point p = {x, y}; return p; }
struct point point_swap(struct point p) { struct point q = {p.y, p.x}; return q; }
double mixed_total(struct mixed m) { return m.tag + m.value + m.count; }
struct mixed mixed_make(int8_t tag, double value, int32_t count) {
    struct mixed m; memset(&m, 0, sizeof m);
    m.tag = tag; m.value = value; m.count = count; return m;
}
struct outer outer_shift(struct outer o, int32_t dx) { o.at.x += dx; o.id += 1; return o; }

uint8_t u8_echo(uint8_t v) { return v; }
int8_t i8_neg(int8_t v) { return (int8_t)-v; }
uint16_t u16_echo(uint16_t v) { return v; }
int16_t i16_echo(int16_t v) { return v; }
uint32_t u32_echo(uint32_t v) { return v; }
uint64_t u64_echo(uint64_t v) { return v; }
int64_t i64_add(int64_t a, int64_t b) { return a + b; }
float f32_half(float v) { return v / 2; }
_Bool bool_not(_Bool b) { return !b; }
size_t usize_echo(size_t v) { return v; }
intptr_t isize_echo(intptr_t v) { return v; }
int32_t sum8(int32_t a, int32_t b, int32_t c, int32_t d, int32_t e, int32_t f, int32_t g, int32_t h) {
    return a + b + c + d + e + f + g + h;
}
int32_t sum10(int32_t a, int32_t b, int32_t c, int32_t d, int32_t e, int32_t f, int32_t g, int32_t h,
              int32_t i, int32_t j) {
    return a + b + c + d + e + f + g + h + i + j;
}

const char *greeting(void) { return "hello from C"; }
const char *null_string(void) { return NULL; }
void *null_pointer(void) { return NULL; }

/* Calls f(i) for i in 0..n and returns the sum of the results. */
int64_t fold_calls(int32_t n, int64_t (*f)(int32_t)) {
    int64_t total = 0;
    for (int32_t i = 0; i < n; i++) total += f(i);
    return total;
}
/* A callback returning a narrow type and one taking a struct. */
int32_t apply_u8(uint8_t (*f)(uint8_t), uint8_t v) { return f(v); }
int32_t apply_point(int32_t (*f)(struct point), int32_t x, int32_t y) {
    struct point p = {x, y}; return f(p);
}
double apply_double(double (*f)(double, double), double a, double b) { return f(a, b); }

/* Blocks the calling thread. */
int32_t sleep_ms(int32_t ms) { usleep((useconds_t)ms * 1000); return ms; }
