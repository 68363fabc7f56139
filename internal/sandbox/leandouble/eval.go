package leandouble

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/org/lean4-cf-action/internal/retry"
)

// Result is the server's answer to a POST, before encoding.
type Result struct {
	OK       bool
	Stdout   string
	Stderr   string
	ExitCode int
	Elapsed  float64
}

// Evaluate runs the documented subset of Lean, line by line:
//
//	#eval EXPR          natural-number arithmetic: + - * / % and parentheses, with Lean's Nat rules
//	                    (a - b is 0 when b > a; a / 0 = 0; a % 0 = a); prints the value and a newline
//	#eval IO.sleep MS   waits MS milliseconds and prints nothing (for timeout tests)
//	#check EXPR         prints "EXPR : Nat" for an arithmetic EXPR
//	import Mathlib      fails: the image has no Mathlib
//	#exit_by_signal 9   the Lean process dies of signal 9 (exit code -9), as an OOM kill does
//	#work MS            MS milliseconds of one vCPU's work; prints nothing (it takes time only on a
//	                    double with a Budget, where runs share the instance's vCPUs)
//	-- comments, blank lines
//
// Anything else is a Lean error: "<stdin>:LINE:COL: error: ..." on stdout and exit code 1.
// Unknown identifiers in #eval/#check give "unknown identifier 'x'".
func Evaluate(ctx context.Context, program string) Result {
	return evaluate(ctx, program, retry.Clock{})
}

// evaluate is Evaluate with IO.sleep paced by clock.
func evaluate(ctx context.Context, program string, clock retry.Clock) Result {
	var out strings.Builder
	for i, raw := range strings.Split(program, "\n") {
		line := strings.TrimRight(raw, "\r")
		trimmed := strings.TrimSpace(line)
		col := len(line) - len(strings.TrimLeft(line, " \t"))
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "--"):
			continue
		case strings.HasPrefix(trimmed, "import "):
			mod := strings.TrimSpace(strings.TrimPrefix(trimmed, "import "))
			return fail(&out, i+1, col+7, fmt.Sprintf("unknown module prefix '%s'\n\nNo directory '%s' or file '%s.olean' in the search path entries", mod, mod, mod))
		case strings.HasPrefix(trimmed, "#exit_by_signal "):
			sig, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(trimmed, "#exit_by_signal ")))
			if err != nil || sig <= 0 {
				return fail(&out, i+1, col, "bad signal")
			}
			return Result{Stdout: out.String(), ExitCode: -sig}
		case strings.HasPrefix(trimmed, "#work "):
			if _, ok := workMillis(trimmed); !ok {
				return fail(&out, i+1, col+6, "expected a number of milliseconds")
			}
		case strings.HasPrefix(trimmed, "#eval IO.sleep "):
			ms, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(trimmed, "#eval IO.sleep ")))
			if err != nil || ms < 0 {
				return fail(&out, i+1, col+15, "expected a number of milliseconds")
			}
			if clock.Sleep(ctx, time.Duration(ms)*time.Millisecond) != nil {
				return Result{ExitCode: -1}
			}
		case strings.HasPrefix(trimmed, "#eval "):
			expr := strings.TrimPrefix(trimmed, "#eval ")
			v, errCol, msg := evalNat(expr)
			if msg != "" {
				return fail(&out, i+1, col+6+errCol, msg)
			}
			fmt.Fprintf(&out, "%d\n", v)
		case strings.HasPrefix(trimmed, "#check "):
			expr := strings.TrimSpace(strings.TrimPrefix(trimmed, "#check "))
			if _, errCol, msg := evalNat(expr); msg != "" {
				return fail(&out, i+1, col+7+errCol, msg)
			}
			fmt.Fprintf(&out, "%s : Nat\n", expr)
		default:
			return fail(&out, i+1, col, fmt.Sprintf("unexpected token '%s'; expected command", firstToken(trimmed)))
		}
	}
	return Result{Stdout: out.String()}
}

func fail(out *strings.Builder, line, col int, msg string) Result {
	fmt.Fprintf(out, "<stdin>:%d:%d: error: %s\n", line, col, msg)
	return Result{Stdout: out.String(), ExitCode: 1}
}

func firstToken(s string) string {
	if i := strings.IndexFunc(s, unicode.IsSpace); i > 0 {
		return s[:i]
	}
	return s
}

// evalNat evaluates natural-number arithmetic. On error it returns the column and message.
func evalNat(s string) (uint64, int, string) {
	p := &parser{s: s}
	v, err := p.expr()
	if err == "" {
		p.space()
		if p.i < len(p.s) {
			err = fmt.Sprintf("unexpected token '%c'; expected command", p.s[p.i])
		}
	}
	if err != "" {
		return 0, p.i, err
	}
	return v, 0, ""
}

type parser struct {
	s string
	i int
}

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *parser) expr() (uint64, string) {
	v, err := p.term()
	for err == "" {
		p.space()
		if p.i >= len(p.s) || (p.s[p.i] != '+' && p.s[p.i] != '-') {
			break
		}
		op := p.s[p.i]
		p.i++
		var r uint64
		if r, err = p.term(); err != "" {
			break
		}
		if op == '+' {
			v += r
		} else if r > v {
			v = 0
		} else {
			v -= r
		}
	}
	return v, err
}

func (p *parser) term() (uint64, string) {
	v, err := p.factor()
	for err == "" {
		p.space()
		if p.i >= len(p.s) || !strings.ContainsRune("*/%", rune(p.s[p.i])) {
			break
		}
		op := p.s[p.i]
		p.i++
		var r uint64
		if r, err = p.factor(); err != "" {
			break
		}
		switch {
		case op == '*':
			v *= r
		case r == 0 && op == '/':
			v = 0
		case r == 0:
			// a % 0 = a
		case op == '/':
			v /= r
		default:
			v %= r
		}
	}
	return v, err
}

func (p *parser) factor() (uint64, string) {
	p.space()
	if p.i >= len(p.s) {
		return 0, "unexpected end of input"
	}
	switch c := p.s[p.i]; {
	case c == '(':
		p.i++
		v, err := p.expr()
		if err != "" {
			return 0, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return 0, "unexpected end of input; expected ')'"
		}
		p.i++
		return v, ""
	case c >= '0' && c <= '9':
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		v, err := strconv.ParseUint(p.s[start:p.i], 10, 64)
		if err != nil {
			return 0, "numeral too large for this double"
		}
		return v, ""
	case unicode.IsLetter(rune(c)) || c == '_':
		start := p.i
		for p.i < len(p.s) && (unicode.IsLetter(rune(p.s[p.i])) || unicode.IsDigit(rune(p.s[p.i])) || p.s[p.i] == '_' || p.s[p.i] == '.') {
			p.i++
		}
		p.i = start
		return 0, fmt.Sprintf("unknown identifier '%s'", p.s[start:start+identLen(p.s[start:])])
	}
	return 0, fmt.Sprintf("unexpected token '%c'; expected term", p.s[p.i])
}

func identLen(s string) int {
	n := 0
	for n < len(s) && (unicode.IsLetter(rune(s[n])) || unicode.IsDigit(rune(s[n])) || s[n] == '_' || s[n] == '.') {
		n++
	}
	return n
}

// workMillis reads a "#work MS" line.
func workMillis(line string) (int, bool) {
	ms, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "#work ")))
	return ms, err == nil && ms >= 0
}

// programWork is the vCPU time the program's #work lines ask for.
func programWork(program string) time.Duration {
	var total time.Duration
	for _, line := range strings.Split(program, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "#work ") {
			if ms, ok := workMillis(t); ok {
				total += time.Duration(ms) * time.Millisecond
			}
		}
	}
	return total
}
