package wrangler

import (
	"fmt"
	"regexp"
)

// Worker names. A Worker's name is the first label of its workers.dev host (<name>.<subdomain>.workers.dev),
// and a DNS label holds at most 63 characters (RFC 1035), hence MaxWorkerNameLen. A lean4-cf deployment is
// two Workers, <name> and <name>StubSuffix, so a deployment's name has 5 fewer: MaxDeploymentNameLen.
const (
	StubSuffix           = "-stub"
	MaxWorkerNameLen     = 63
	MaxDeploymentNameLen = MaxWorkerNameLen - len(StubSuffix)
)

var workerNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// CheckWorkerName is the one check of a Worker's name: render's, which names one Worker (up to
// MaxWorkerNameLen). Its error starts with the quoted value; callers put the input's name before it.
func CheckWorkerName(name string) error { return checkName(name, MaxWorkerNameLen, "") }

// CheckDeploymentName checks the name of a lean4-cf deployment, as deploy, status and rollback take it
// (--name, the Action's worker-name): a Worker name with room for StubSuffix.
func CheckDeploymentName(name string) error {
	return checkName(name, MaxDeploymentNameLen, fmt.Sprintf(" (deploy also creates %s%s, and a name holds at most %d)", "<name>", StubSuffix, MaxWorkerNameLen))
}

func checkName(name string, maxLen int, why string) error {
	if len(name) <= maxLen && workerNameRE.MatchString(name) {
		return nil
	}
	return fmt.Errorf("%q is not a Worker name: use 1 to %d lowercase letters, digits and dashes, not starting or ending with a dash%s", name, maxLen, why)
}

// CheckMaxInstances is the one check of max instances (containers[].max_instances), whichever command
// takes it. Its error starts with the value; callers put the input's name before it.
func CheckMaxInstances(n int) error {
	if n < 1 || n > MaxInstancesLimit {
		return fmt.Errorf("%d is out of range: use 1 to %d", n, MaxInstancesLimit)
	}
	return nil
}

// CheckInstances is the one check of INSTANCES against max instances (max 0: not known here). More
// instances than max would leave requests waiting for instances that cannot start.
func CheckInstances(n, max int) error {
	if n < 1 || n > MaxInstancesLimit {
		return fmt.Errorf("%d is out of range: use 1 to %d", n, MaxInstancesLimit)
	}
	if max > 0 && n > max {
		return fmt.Errorf("%d is out of range: use 1 to max instances (%d); requests would wait for instances that cannot start, so lower instances or raise max instances", n, max)
	}
	return nil
}
