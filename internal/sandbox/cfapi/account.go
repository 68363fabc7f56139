package cfapi

import (
	"net/http"
	"strconv"
	"strings"
)

// accountRoutes are the endpoints of token verification and the account (user, memberships).
func (s *Server) accountRoutes() []endpoint {
	const a = acctPath
	return []endpoint{
		{"GET /user/tokens/verify", "", s.verifyToken},
		{"GET " + a + "/tokens/verify", "", s.verifyToken},
		{"GET /memberships", "", s.memberships},
		{"GET /user", "", s.user},
	}
}

const authorEmail = "cftest@example.com"

func (s *Server) verifyToken(r *http.Request) (*reply, *apiErr) {
	value, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok, _ := s.token(value)
	res := map[string]any{"id": tokenID(value), "status": "active"}
	if !tok.Expiry.IsZero() {
		res["expires_on"] = tok.Expiry.UTC().Format("2006-01-02T15:04:05Z")
	}
	return &reply{result: res, msgs: []APIError{{Code: 10000, Message: "This API Token is valid and active"}}}, nil
}

func tokenID(value string) string {
	var sum uint64 = 14695981039346656037
	for _, c := range []byte(value) {
		sum = (sum ^ uint64(c)) * 1099511628211
	}
	return strings.Repeat(strconv.FormatUint(sum, 16), 4)[:32]
}

func (s *Server) memberships(*http.Request) (*reply, *apiErr) {
	return &reply{
		result: []any{map[string]any{
			"id": tokenID(s.opts.AccountID), "status": "accepted",
			"account": map[string]any{"id": s.opts.AccountID, "name": "cftest account"},
		}},
		info: map[string]any{"page": 1, "per_page": 20, "count": 1, "total_count": 1, "total_pages": 1},
	}, nil
}

func (s *Server) user(*http.Request) (*reply, *apiErr) {
	return ok(map[string]any{"id": tokenID(authorEmail), "email": authorEmail, "suspended": false, "has_enterprise_zones": false})
}
