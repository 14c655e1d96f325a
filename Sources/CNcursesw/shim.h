#ifndef REWIND_CNCURSESW_SHIM_H
#define REWIND_CNCURSESW_SHIM_H
#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <ncursesw/curses.h>

/* Macros and globals Swift cannot see (or sees as not concurrency-safe). */
static inline int rw_a_bold(void) { return A_BOLD; }
static inline int rw_a_reverse(void) { return A_REVERSE; }
static inline int rw_a_dim(void) { return A_DIM; }
static inline int rw_color_pair(int n) { return COLOR_PAIR(n); }
static inline int rw_cols(void) { return COLS; }
static inline int rw_lines(void) { return LINES; }
static inline WINDOW *rw_stdscr(void) { return stdscr; }
static inline int rw_key_resize(void) { return KEY_RESIZE; }
static inline int rw_key_mouse(void) { return KEY_MOUSE; }
static inline int rw_err(void) { return ERR; }
static inline void rw_setlocale(void) { setlocale(LC_ALL, ""); }
static inline int rw_addstr_attr(int y, int x, const char *s, int attr) {
    attrset(attr);
    int r = mvaddstr(y, x, s);
    attrset(A_NORMAL);
    return r;
}
/* 1: a click (x, y set), 2: the wheel up, 3: the wheel down, 0: anything else. */
static inline int rw_mouse_event(int *x, int *y) {
    MEVENT ev;
    if (getmouse(&ev) != OK) return 0;
    *x = ev.x;
    *y = ev.y;
    if (ev.bstate & BUTTON4_PRESSED) return 2;
#ifdef BUTTON5_PRESSED
    if (ev.bstate & BUTTON5_PRESSED) return 3;
#endif
    if (ev.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED)) return 1;  /* the release is not a second click */
    return 0;
}
static inline int rw_a_underline(void) { return A_UNDERLINE; }
static inline void rw_enable_mouse(void) {
    mmask_t mask = BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_RELEASED | BUTTON4_PRESSED;
#ifdef BUTTON5_PRESSED
    mask |= BUTTON5_PRESSED;
#endif
    mousemask(mask, NULL);
    mouseinterval(0);
}
#endif
