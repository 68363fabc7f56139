package report

import (
	"fmt"
	"strings"
)

// PreviewMarker is the hidden line that finds a pull request's preview comment again: one per PR and
// production Worker. It differs from Marker, so the preview's comment and the production deploy's
// comment on the same pull request never replace each other.
func PreviewMarker(production string) string { return "<!-- lean4-cf:preview:" + production + " -->" }

// PreviewInfo names a pull request's preview for its comment.
type PreviewInfo struct {
	// Production is the production Worker the preview is of; it names the comment's marker. Required.
	Production string
	// PR is the pull request's number. Required.
	PR int
	// SleepAfter is the idle time after which the preview's instance stops, e.g. "1m"; "" leaves it out.
	SleepAfter string
	// MaxInstances is the most instances the preview runs at once; 0 leaves it out.
	MaxInstances int
}

func (p PreviewInfo) title() string { return fmt.Sprintf("preview of #%d", p.PR) }

// PreviewComment renders the preview's sticky comment after a preview deploy; r is the preview's run
// (r.Name is the preview Worker). It carries the same essentials as the deploy comment (URL, commit,
// image and digest, stages, verification) and, once deployed, the cost of an hour awake and how the
// preview goes away.
func PreviewComment(p PreviewInfo, r *Result, runURL string) string {
	var b strings.Builder
	b.WriteString(PreviewMarker(p.Production) + "\n")
	fmt.Fprintf(&b, "### lean4-cf %s: `%s` %s\n\n", p.title(), r.Name, outcomeText(r))
	writeEssentials(&b, r)
	if pf := r.Preflight; pf != nil && pf.Digest != "" {
		fmt.Fprintf(&b, "\n**Image digest:** `%s`  \n", mdInline(pf.Digest))
	}
	if usd, ok := r.Preflight.awakeUSD(); ok && r.Outcome == "deployed" {
		fmt.Fprintf(&b, "**Cost:** $%.4f per hour awake (%s)", usd.Round(), r.Preflight.instanceType())
		var limits []string
		if p.MaxInstances > 0 {
			limits = append(limits, fmt.Sprintf("at most %d instance%s", p.MaxInstances, plural(p.MaxInstances)))
		}
		if p.SleepAfter != "" {
			limits = append(limits, "sleeps after "+mdInline(p.SleepAfter)+" idle (no container charges while asleep)")
		}
		if len(limits) > 0 {
			fmt.Fprintf(&b, "; %s", strings.Join(limits, ", "))
		}
		b.WriteString("  \n")
	}
	if r.Outcome == "deployed" {
		b.WriteString("\nThis preview is removed when the pull request closes, or now with `/lean4 preview delete`.\n")
	}
	writeRunLink(&b, runURL)
	return capChars(b.String(), MaxCommentChars, "\n\n_(comment truncated; see the workflow run's summary)_\n")
}

// PreviewRemoval is what removing a preview found and did, for its comment.
type PreviewRemoval struct {
	// Worker is the preview Worker's name.
	Worker string
	// Why says what removed it: "pull request #7 was merged", "`/lean4 preview delete` by @alice".
	Why string
	// Removed lists what was deleted, one resource each ("Worker lean4-server-pr-7", "image ...@sha256:...").
	Removed []string
	// Kept lists what was found but kept, each with the reason (an image a production version still uses).
	Kept []string
	// Deployments is how many GitHub deployments were marked inactive.
	Deployments int
}

// PreviewDeletedComment renders the preview's sticky comment once the preview is removed: what was
// deleted and kept, or that nothing was left (a second delete, or a preview that never finished).
func PreviewDeletedComment(p PreviewInfo, d PreviewRemoval, runURL string) string {
	var b strings.Builder
	b.WriteString(PreviewMarker(p.Production) + "\n")
	fmt.Fprintf(&b, "### lean4-cf %s: `%s` deleted 🗑️\n\n", p.title(), mdInline(d.Worker))
	if d.Why != "" {
		fmt.Fprintf(&b, "Removed because %s.\n\n", mdInline(d.Why))
	}
	if len(d.Removed) == 0 {
		b.WriteString("Nothing was left to remove: no Worker, container application or image of this preview exists.\n")
	} else {
		b.WriteString("Deleted:\n")
		for _, x := range d.Removed {
			fmt.Fprintf(&b, "- %s\n", mdInline(x))
		}
	}
	if len(d.Kept) > 0 {
		b.WriteString("\nKept:\n")
		for _, x := range d.Kept {
			fmt.Fprintf(&b, "- %s\n", mdInline(x))
		}
	}
	if d.Deployments > 0 {
		fmt.Fprintf(&b, "\n%d GitHub deployment%s in `preview/pr-%d` marked inactive.\n", d.Deployments, plural(d.Deployments), p.PR)
	}
	writeRunLink(&b, runURL)
	return capChars(b.String(), MaxCommentChars, "\n\n_(comment truncated; see the workflow run)_\n")
}

// PreviewCapComment renders the answer to a preview refused because max previews already exist: which
// pull requests hold them and how to free one. No other pull request's preview is ever removed for it.
func PreviewCapComment(p PreviewInfo, max int, holders []int, runURL string) string {
	var b strings.Builder
	b.WriteString(PreviewMarker(p.Production) + "\n")
	fmt.Fprintf(&b, "### lean4-cf %s refused: %d of %d previews in use\n\n", p.title(), len(holders), max)
	if len(holders) > 0 {
		refs := make([]string, len(holders))
		for i, n := range holders {
			refs[i] = fmt.Sprintf("#%d", n)
		}
		fmt.Fprintf(&b, "The previews of %s hold the %d allowed by `max-previews`. ", strings.Join(refs, ", "), max)
	}
	b.WriteString("No preview was deployed for this pull request, and no other preview was touched.\n\n")
	b.WriteString("To free one:\n")
	b.WriteString("- comment `/lean4 preview delete` on a pull request whose preview is no longer needed, or close it;\n")
	b.WriteString("- or remove what missed closes left behind: run the preview workflow by hand (workflow_dispatch), or `lean4-cf preview prune --older-than` a duration;\n")
	b.WriteString("- or raise `max-previews` in the workflow.\n\n")
	b.WriteString("Then push again or comment `/lean4 preview`.\n")
	writeRunLink(&b, runURL)
	return b.String()
}

// PreviewRefusal renders the preview comment that answers a refused preview command or event.
func PreviewRefusal(p PreviewInfo, command, why string) string {
	return refusal(PreviewMarker(p.Production), " "+p.title(), command, why)
}

// awakeUSD is the chosen instance type's price of an hour awake, from the fit table.
func (p *Preflight) awakeUSD() (USD, bool) {
	if p == nil {
		return 0, false
	}
	if p.Custom != nil && p.Custom.Spec == p.InstanceType {
		return p.Custom.USDPerHour, true
	}
	for _, t := range p.Types {
		if t.Name == p.InstanceType {
			return t.USDPerHour, true
		}
	}
	return 0, false
}

func writeRunLink(b *strings.Builder, runURL string) {
	if runURL != "" {
		fmt.Fprintf(b, "\n[Workflow run](%s)\n", runURL)
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
