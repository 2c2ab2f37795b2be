package emulator

import (
	"net/http"
	"strconv"
	"strings"
)

// Incident states.
const (
	StateNew        = "1"
	StateInProgress = "2"
	StateOnHold     = "3"
	StateResolved   = "6"
	StateClosed     = "7"
	StateCanceled   = "8"
)

// Priority computes priority from impact and urgency with the default
// Priority Lookup Rules: 1/1→1, 1/2 or 2/1→2, 1/3, 2/2 or 3/1→3, 2/3 or 3/2→4,
// 3/3→5. Invalid inputs count as 3 (low).
func Priority(impact, urgency string) string {
	i, u := level(impact), level(urgency)
	return strconv.Itoa(i + u - 1)
}

func level(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 3 {
		return 3
	}
	return n
}

// DataPolicyError checks the incident data policy: a Resolved or Closed
// incident must carry close_code and close_notes, and the close code must be
// one of codes. It returns "" when the record passes, else the detail of the
// 403 the instance answers with.
func DataPolicyError(v map[string]string, codes map[string]bool) string {
	state := v["state"]
	if state != StateResolved && state != StateClosed {
		return ""
	}
	var missing []string
	if strings.TrimSpace(v["close_code"]) == "" {
		missing = append(missing, "Resolution code")
	}
	if strings.TrimSpace(v["close_notes"]) == "" {
		missing = append(missing, "Resolution notes")
	}
	if len(missing) > 0 {
		return "Data Policy Exception: The following fields are mandatory: " + strings.Join(missing, ", ")
	}
	if len(codes) > 0 && !codes[v["close_code"]] {
		return "Data Policy Exception: Invalid value '" + v["close_code"] + "' for Resolution code"
	}
	return ""
}

func aclError(op string) *apiError {
	return &apiError{http.StatusForbidden, "Operation Failed", "ACL Exception " + op + " Failed due to security constraints"}
}

// taskRules are the business rules and data policies of task tables (and
// incident in particular). old is nil on insert; v is the row as it would
// be saved and is completed in place.
func (e *Emulator) taskRules(class string, old, v map[string]string, u *User) *apiError {
	op := "Update"
	if old == nil {
		op = "Insert"
	}
	if !u.hasRole("itil", "itil_admin") {
		return aclError(op)
	}
	now := e.nowString()
	me := stableID("sys_user", u.UserName)
	admin := u.hasRole("itil_admin")
	if old == nil {
		def := func(k, s string) {
			if v[k] == "" {
				v[k] = s
			}
		}
		def("state", StateNew)
		def("impact", "3")
		def("urgency", "3")
		def("opened_at", now)
		v["opened_by"] = me
		if class == "incident" {
			v["reopen_count"] = "0"
		}
	} else if s := old["state"]; (s == StateClosed || s == StateCanceled) && !admin {
		// Closed and canceled incidents are read-only to non-admins.
		return aclError(op)
	}
	oldState := ""
	if old != nil {
		oldState = old["state"]
	}
	state := v["state"]
	if _, ok := stateChoices[state]; !ok {
		return &apiError{http.StatusBadRequest, "Invalid state", "state must be one of 1, 2, 3, 6, 7, 8"}
	}
	if state == StateClosed && oldState != StateClosed && !admin {
		return aclError(op)
	}
	v["active"] = strconv.FormatBool(state != StateClosed && state != StateCanceled)
	if class != "incident" {
		return nil
	}
	v["incident_state"] = state
	v["priority"] = Priority(v["impact"], v["urgency"])
	codes := e.closed
	if old != nil && old["close_code"] == v["close_code"] {
		codes = nil // an unchanged (legacy) close code is not re-validated
	}
	if d := DataPolicyError(v, codes); d != "" {
		return &apiError{http.StatusForbidden, "Operation Failed", d}
	}
	switch {
	case state == StateResolved && oldState != StateResolved:
		v["resolved_at"], v["resolved_by"] = now, me
	case state == StateClosed && oldState != StateClosed:
		v["closed_at"], v["closed_by"] = now, me
		if v["resolved_at"] == "" {
			v["resolved_at"], v["resolved_by"] = now, me
		}
	}
	reopened := (oldState == StateResolved || oldState == StateClosed) &&
		(state == StateNew || state == StateInProgress || state == StateOnHold)
	if reopened {
		n, _ := strconv.Atoi(v["reopen_count"])
		v["reopen_count"] = strconv.Itoa(n + 1)
		v["reopened_time"], v["reopened_by"] = now, me
		v["resolved_at"], v["resolved_by"], v["closed_at"], v["closed_by"] = "", "", "", ""
	}
	return nil
}
