package report

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Size limits GitHub enforces (docs/platform-facts.md), with room to spare.
const (
	MaxSummaryBytes = 1 << 20 // $GITHUB_STEP_SUMMARY per step
	MaxCommentChars = 65536   // an issue comment body
)

// Marker is the hidden line that finds a sticky comment again: one per PR and worker.
func Marker(worker string) string { return "<!-- lean4-cf:deploy:" + worker + " -->" }

// Summary renders the job summary: outcome, URL, stage timeline, verification, status and the fit table.
func Summary(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## lean4-cf: %s %s\n\n", r.Name, outcomeText(r))
	writeEssentials(&b, r)
	if r.Preflight != nil && len(r.Preflight.Types) > 0 {
		b.WriteString("\n### Instance types\n\n")
		writeFitTable(&b, r.Preflight)
	}
	return capBytes(b.String(), MaxSummaryBytes, "\n\n_(summary truncated)_\n")
}

// Comment renders the sticky PR comment: the marker, then the same essentials as the summary.
// runURL, when set, links the workflow run for the full details.
func Comment(r *Result, runURL string) string {
	var b strings.Builder
	b.WriteString(Marker(r.Name) + "\n")
	fmt.Fprintf(&b, "### lean4-cf: `%s` %s\n\n", r.Name, outcomeText(r))
	writeEssentials(&b, r)
	writeRunLink(&b, runURL)
	tail := "\n\n_(comment truncated; see the workflow run's summary)_\n"
	return capChars(b.String(), MaxCommentChars, tail)
}

// CommandComment renders the sticky comment for a slash command other than deploy (status, rollback,
// preflight): the marker, the command and how it ended, and what it printed, in a code block whose fence
// no line of the output can close. A long output keeps its end.
func CommandComment(worker, command string, ok bool, output, runURL string) string {
	var b strings.Builder
	b.WriteString(Marker(worker) + "\n")
	mark := "✅"
	if !ok {
		mark = "❌"
	}
	fmt.Fprintf(&b, "### lean4-cf: `%s` on `%s` %s\n\n", strings.ReplaceAll(mdInline(command), "`", "'"), worker, mark)
	output = strings.TrimSpace(output)
	if len(output) > MaxCommentChars/2 {
		output = "…" + output[len(output)-MaxCommentChars/2:]
		for len(output) > 0 && !utf8Start(output[0]) {
			output = output[1:]
		}
	}
	if output != "" {
		fence := "```"
		for strings.Contains(output, fence) {
			fence += "`"
		}
		fmt.Fprintf(&b, "%s\n%s\n%s\n", fence, output, fence)
	}
	if runURL != "" {
		fmt.Fprintf(&b, "\n[Workflow run](%s)\n", runURL)
	}
	return capChars(b.String(), MaxCommentChars, "\n\n_(comment truncated; see the workflow run)_\n")
}

// Refusal renders the sticky comment that answers a refused slash command.
func Refusal(worker, command, why string) string {
	return refusal(Marker(worker), ": `"+worker+"`", command, why)
}

// refusal is a refused command's comment: marker, the title of what was refused, the command and why.
func refusal(marker, what, command, why string) string {
	return fmt.Sprintf("%s\n### lean4-cf%s refused\n\n`%s` was not run: %s\n", marker, what, mdInline(command), mdInline(why))
}

func outcomeText(r *Result) string {
	switch r.Outcome {
	case "deployed":
		return "deployed and verified ✅"
	case "rolled-back":
		return "failed and rolled back ↩️"
	case "failed":
		return "failed ❌"
	case "":
		return "(no outcome)"
	default:
		return strings.ReplaceAll(r.Outcome, "-", " ") + " ⏸️"
	}
}

func writeEssentials(b *strings.Builder, r *Result) {
	if r.URL != "" {
		fmt.Fprintf(b, "**URL:** %s  \n", r.URL)
	}
	if r.VersionID != "" {
		fmt.Fprintf(b, "**Version:** `%s`  \n", r.VersionID)
	}
	if r.Commit != "" {
		fmt.Fprintf(b, "**Commit:** `%s`  \n", mdInline(r.Commit))
	}
	if r.Preflight != nil {
		p := r.Preflight
		size, how := uncompressedText(r)
		fmt.Fprintf(b, "**Image:** `%s` (`%s`), %s compressed, %s uncompressed (%s), instance type **%s**  \n",
			mdInline(p.Image), short(p.Digest), Bytes(p.CompressedBytes), size, how, p.instanceType())
		if p.Capacity != "" {
			fmt.Fprintf(b, "**Capacity:** %s  \n", mdInline(p.Capacity))
		}
	}
	if r.Error != "" {
		fmt.Fprintf(b, "\n> **Error:** %s\n", mdInline(r.Error))
	}
	if len(r.Stages) > 0 {
		b.WriteString("\n| stage | result | duration | detail |\n|---|---|---:|---|\n")
		for _, s := range r.Stages {
			mark := "✅"
			if s.Status != "ok" {
				mark = "❌"
			}
			fmt.Fprintf(b, "| %s | %s %s | %s | %s |\n", s.Name, mark, s.Status, Dur(s.Duration.D()), mdCell(s.Detail))
		}
	}
	if r.Ready != nil || r.Latency != nil {
		b.WriteString("\n| verification | value |\n|---|---|\n")
		if r.Ready != nil {
			fmt.Fprintf(b, "| Lean | %s |\n", mdCell(r.Ready.LeanVersion))
			fmt.Fprintf(b, "| cold start | %s (%d attempts) |\n", Dur(r.Ready.ColdStart.D()), r.Ready.Attempts)
		}
		if r.Latency != nil {
			fmt.Fprintf(b, "| warm latency | p50 %s, p95 %s over %d requests |\n", Dur(r.Latency.P50.D()), Dur(r.Latency.P95.D()), r.Latency.N)
		}
	}
	if r.Push != nil {
		fmt.Fprintf(b, "\n**Push:** %s in %d blobs, %d blobs already there  \n", Bytes(r.Push.BytesPushed), r.Push.BlobsPushed, r.Push.BlobsSkipped)
	}
	if r.Status != nil {
		s := r.Status
		b.WriteString("\n| application | id | state | instances | image |\n|---|---|---|---:|---|\n")
		fmt.Fprintf(b, "| %s | `%s` | %s | %d | `%s` |\n", mdCell(s.Application), s.ApplicationID, s.State, s.Instances, mdInline(s.Image))
	}
}

func writeFitTable(b *strings.Builder, p *Preflight) {
	b.WriteString("| type | vCPU | memory | disk | fits | why not | $/hour awake |\n|---|---:|---:|---:|---|---|---:|\n")
	rows := p.Types
	if p.Custom != nil {
		rows = append(rows[:len(rows):len(rows)], p.Custom.FitRow)
	}
	for _, t := range rows {
		fits := "✅"
		if !t.Fits {
			fits = "❌"
		}
		name := t.Name
		if t.Spec != "" {
			name = "custom (cheapest fit)"
		}
		if t.Name == p.InstanceType || (t.Spec != "" && t.Spec == p.InstanceType) {
			name = "**" + name + "**"
		}
		fmt.Fprintf(b, "| %s | %s | %d MiB | %d MB | %s | %s | %.4f |\n", name, strconv.FormatFloat(t.VCPU, 'f', -1, 64),
			t.MemoryMiB, t.DiskMB, fits, mdCell(strings.Join(t.Reasons, "; ")), t.USDPerHour)
	}
}

// Text renders the terminal report.
func Text(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "lean4-cf: %s: %s\n", r.Name, strings.ReplaceAll(r.Outcome, "-", " "))
	if r.URL != "" {
		fmt.Fprintf(&b, "  url:        %s\n", r.URL)
	}
	if r.VersionID != "" {
		fmt.Fprintf(&b, "  version:    %s\n", r.VersionID)
	}
	if r.Preflight != nil {
		size, how := uncompressedText(r)
		fmt.Fprintf(&b, "  image:      %s (%s), %s compressed, %s uncompressed (%s), %s\n", r.Preflight.Image, short(r.Preflight.Digest),
			Bytes(r.Preflight.CompressedBytes), size, how, r.Preflight.instanceType())
	}
	for _, s := range r.Stages {
		fmt.Fprintf(&b, "  %-10s  %-6s %8s  %s\n", s.Name, s.Status, Dur(s.Duration.D()), s.Detail)
	}
	if r.Ready != nil {
		fmt.Fprintf(&b, "  cold start: %s (%d attempts), %s\n", Dur(r.Ready.ColdStart.D()), r.Ready.Attempts, r.Ready.LeanVersion)
	}
	if r.Latency != nil {
		fmt.Fprintf(&b, "  latency:    p50 %s, p95 %s (%d requests)\n", Dur(r.Latency.P50.D()), Dur(r.Latency.P95.D()), r.Latency.N)
	}
	if r.Status != nil {
		fmt.Fprintf(&b, "  status:     %s %s, %d instances, %s\n", r.Status.ApplicationID, r.Status.State, r.Status.Instances, r.Status.Image)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "  error:      %s\n", r.Error)
	}
	return b.String()
}

// uncompressedText is Result.Uncompressed as text with its label: the preflight's range when it bounded
// the size and no push has measured it since.
func uncompressedText(r *Result) (text, how string) {
	size, how := r.Uncompressed()
	if how != "measured" && r.Preflight != nil && r.Preflight.UncompressedBytesHigh > size {
		return Bytes(size) + " to " + Bytes(r.Preflight.UncompressedBytesHigh), how
	}
	return Bytes(size), how
}

// Output is one Action output.
type Output struct{ Name, Value string }

// Outputs lists the Action's outputs in a fixed order. result-json is the whole result.
func Outputs(r *Result) ([]Output, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding the result: %w", err)
	}
	var digest, itype, compressed, uncompressed, cold, status string
	if p := r.Preflight; p != nil {
		digest, itype = p.Digest, p.InstanceType
		size, _ := r.Uncompressed()
		compressed, uncompressed = strconv.FormatInt(p.CompressedBytes, 10), strconv.FormatInt(size, 10)
	}
	if r.Ready != nil {
		cold = strconv.FormatInt(r.Ready.ColdStart.D().Milliseconds(), 10)
	}
	status = r.Outcome
	if r.Status != nil && r.Status.State != "" && r.Outcome == "deployed" {
		status = r.Status.State
	}
	return []Output{
		{"url", r.URL},
		{"version-id", r.VersionID},
		{"image-digest", digest},
		{"instance-type", itype},
		{"compressed-bytes", compressed},
		{"uncompressed-bytes", uncompressed},
		{"status", status},
		{"cold-start-ms", cold},
		{"result-json", string(js)},
	}, nil
}

// Bytes formats a byte count in decimal units, as Cloudflare states disk sizes.
func Bytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// Dur formats a duration for people: 850ms, 4.2s, 3m05s.
func Dur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

func short(digest string) string {
	if i := strings.IndexByte(digest, ':'); i >= 0 && len(digest) > i+13 {
		return digest[:i+13]
	}
	return digest
}

// mdCell makes text safe inside a table cell: one line, no pipe breaks.
func mdCell(s string) string {
	s = strings.ReplaceAll(mdInline(s), "|", `\|`)
	return s
}

// mdInline keeps text on one line and stops it from opening HTML (a marker look-alike, for one).
func mdInline(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "<", "&lt;")
	return s
}

func capBytes(s string, max int, tail string) string {
	if len(s) <= max {
		return s
	}
	cut := max - len(tail)
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + tail
}

func capChars(s string, max int, tail string) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-len([]rune(tail))]) + tail
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
