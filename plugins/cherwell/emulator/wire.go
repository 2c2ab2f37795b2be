package emulator

// Wire types: the camelCase JSON models of CSM's REST API (Trebuchet.WebApi
// DataContracts), limited to what the emulator serves. Optional strings use
// omitempty because the swagger has no nullable types.

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	ClientID     string `json:"as:client_id"`
	Username     string `json:"username"`
	Issued       string `json:".issued"`
	Expires      string `json:".expires"`
}

type tokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// apiMessage is the ASP.NET Web API error body (401, 404 route, 5xx).
type apiMessage struct {
	Message string `json:"Message"`
}

type summary struct {
	BusObID         string    `json:"busObId"`
	DisplayName     string    `json:"displayName"`
	FirstRecIDField string    `json:"firstRecIdField,omitempty"`
	Group           bool      `json:"group"`
	GroupSummaries  []summary `json:"groupSummaries"`
	Lookup          bool      `json:"lookup"`
	Major           bool      `json:"major"`
	Name            string    `json:"name"`
	RecIDFields     string    `json:"recIdFields,omitempty"`
	StateFieldID    string    `json:"stateFieldId,omitempty"`
	States          string    `json:"states,omitempty"`
	Supporting      bool      `json:"supporting"`
}

type fieldDefinition struct {
	AutoFill             bool   `json:"autoFill"`
	Calculated           bool   `json:"calculated"`
	Category             string `json:"category,omitempty"`
	DecimalDigits        int    `json:"decimalDigits"`
	Description          string `json:"description,omitempty"`
	Details              string `json:"details,omitempty"`
	DisplayName          string `json:"displayName"`
	Enabled              bool   `json:"enabled"`
	FieldID              string `json:"fieldId"`
	HasDate              bool   `json:"hasDate"`
	HasTime              bool   `json:"hasTime"`
	IsFullTextSearchable bool   `json:"isFullTextSearchable"`
	MaximumSize          string `json:"maximumSize,omitempty"`
	Name                 string `json:"name"`
	ReadOnly             bool   `json:"readOnly"`
	Required             bool   `json:"required"`
	Type                 string `json:"type"`
	TypeLocalized        string `json:"typeLocalized"`
	Validated            bool   `json:"validated"`
	WholeDigits          int    `json:"wholeDigits"`
}

type relationship struct {
	Cardinality      string            `json:"cardinality"`
	Description      string            `json:"description"`
	DisplayName      string            `json:"displayName"`
	FieldDefinitions []fieldDefinition `json:"fieldDefinitions"`
	RelationshipID   string            `json:"relationshipId"`
	Target           string            `json:"target"`
}

type gridDefinition struct {
	DisplayName string `json:"displayName"`
	GridID      string `json:"gridId"`
	Name        string `json:"name"`
}

// errorFields are the hasError / errorCode / errorMessage trio nearly every
// CSM response carries.
type errorFields struct {
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	HasError     bool   `json:"hasError"`
}

type schemaResponse struct {
	BusObID          string            `json:"busObId,omitempty"`
	FieldDefinitions []fieldDefinition `json:"fieldDefinitions"`
	FirstRecIDField  string            `json:"firstRecIdField,omitempty"`
	GridDefinitions  []gridDefinition  `json:"gridDefinitions"`
	Name             string            `json:"name,omitempty"`
	RecIDFields      string            `json:"recIdFields,omitempty"`
	Relationships    []relationship    `json:"relationships"`
	StateFieldID     string            `json:"stateFieldId,omitempty"`
	States           string            `json:"states,omitempty"`
	errorFields
}

type templateRequest struct {
	BusObID         string   `json:"busObId"`
	FieldIDs        []string `json:"fieldIds"`
	FieldNames      []string `json:"fieldNames"`
	IncludeAll      bool     `json:"includeAll"`
	IncludeRequired bool     `json:"includeRequired"`
}

type fieldTemplateItem struct {
	Dirty       bool   `json:"dirty"`
	DisplayName string `json:"displayName"`
	FieldID     string `json:"fieldId"`
	HTML        string `json:"html,omitempty"`
	Name        string `json:"name"`
	Value       string `json:"value"`
}

// fieldItemIn is a FieldTemplateItem as clients send it (value may be any
// JSON scalar in practice; CSM coerces).
type fieldItemIn struct {
	Dirty       bool   `json:"dirty"`
	DisplayName string `json:"displayName"`
	FieldID     string `json:"fieldId"`
	Name        string `json:"name"`
	Value       any    `json:"value"`
}

type templateResponse struct {
	Fields []fieldTemplateItem `json:"fields"`
	errorFields
}

type saveRequest struct {
	BusObID       string        `json:"busObId"`
	BusObPublicID string        `json:"busObPublicId"`
	BusObRecID    string        `json:"busObRecId"`
	CacheKey      string        `json:"cacheKey"`
	CacheScope    string        `json:"cacheScope"`
	Fields        []fieldItemIn `json:"fields"`
	Persist       *bool         `json:"persist"`
}

type fieldValidationError struct {
	Error     string `json:"error"`
	ErrorCode string `json:"errorCode"`
	FieldID   string `json:"fieldId"`
}

type notificationTrigger struct {
	Key          string `json:"key"`
	SourceChange string `json:"sourceChange"`
	SourceID     string `json:"sourceId"`
	SourceType   string `json:"sourceType"`
}

type saveResponse struct {
	BusObPublicID         string                 `json:"busObPublicId,omitempty"`
	BusObRecID            string                 `json:"busObRecId,omitempty"`
	CacheKey              string                 `json:"cacheKey,omitempty"`
	FieldValidationErrors []fieldValidationError `json:"fieldValidationErrors"`
	NotificationTriggers  []notificationTrigger  `json:"notificationTriggers"`
	errorFields
}

type link struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

type readResponse struct {
	BusObID       string              `json:"busObId,omitempty"`
	BusObPublicID string              `json:"busObPublicId,omitempty"`
	BusObRecID    string              `json:"busObRecId,omitempty"`
	Fields        []fieldTemplateItem `json:"fields"`
	Links         []link              `json:"links"`
	errorFields
}

type filterInfo struct {
	FieldID  string `json:"fieldId"`
	Operator string `json:"operator"`
	Value    any    `json:"value"`
}

type sortInfo struct {
	FieldID       string `json:"fieldId"`
	SortDirection int    `json:"sortDirection"`
}

type searchRequest struct {
	BusObID          string       `json:"busObId"`
	Fields           []string     `json:"fields"`
	Filters          []filterInfo `json:"filters"`
	IncludeAllFields bool         `json:"includeAllFields"`
	IncludeSchema    bool         `json:"includeSchema"`
	PageNumber       int          `json:"pageNumber"`
	PageSize         int          `json:"pageSize"`
	SearchID         string       `json:"searchId"`
	SearchName       string       `json:"searchName"`
	SearchText       string       `json:"searchText"`
	Sorting          []sortInfo   `json:"sorting"`
}

type searchResponse struct {
	BusinessObjects []readResponse `json:"businessObjects"`
	HasPrompts      bool           `json:"hasPrompts"`
	Links           []link         `json:"links"`
	Prompts         []any          `json:"prompts"`
	TotalRows       int            `json:"totalRows"`
	errorFields
}

type relatedSaveRequest struct {
	BusObID             string        `json:"busObId"`
	BusObPublicID       string        `json:"busObPublicId"`
	BusObRecID          string        `json:"busObRecId"`
	CacheKey            string        `json:"cacheKey"`
	CacheScope          string        `json:"cacheScope"`
	Fields              []fieldItemIn `json:"fields"`
	ParentBusObID       string        `json:"parentBusObId"`
	ParentBusObPublicID string        `json:"parentBusObPublicId"`
	ParentBusObRecID    string        `json:"parentBusObRecId"`
	Persist             *bool         `json:"persist"`
	RelationshipID      string        `json:"relationshipId"`
}

type relatedSaveResponse struct {
	BusObPublicID         string                 `json:"busObPublicId,omitempty"`
	BusObRecID            string                 `json:"busObRecId,omitempty"`
	CacheKey              string                 `json:"cacheKey,omitempty"`
	FieldValidationErrors []fieldValidationError `json:"fieldValidationErrors"`
	NotificationTriggers  []notificationTrigger  `json:"notificationTriggers"`
	ParentBusObID         string                 `json:"parentBusObId,omitempty"`
	ParentBusObPublicID   string                 `json:"parentBusObPublicId,omitempty"`
	ParentBusObRecID      string                 `json:"parentBusObRecId,omitempty"`
	RelationshipID        string                 `json:"relationshipId,omitempty"`
	errorFields
}

type relatedRequest struct {
	AllFields        bool         `json:"allFields"`
	CustomGridID     string       `json:"customGridId"`
	FieldsList       []string     `json:"fieldsList"`
	Filters          []filterInfo `json:"filters"`
	PageNumber       int          `json:"pageNumber"`
	PageSize         int          `json:"pageSize"`
	ParentBusObID    string       `json:"parentBusObId"`
	ParentBusObRecID string       `json:"parentBusObRecId"`
	RelationshipID   string       `json:"relationshipId"`
	Sorting          []sortInfo   `json:"sorting"`
	UseDefaultGrid   bool         `json:"useDefaultGrid"`
}

type relatedResponse struct {
	Links                  []link         `json:"links"`
	PageNumber             int            `json:"pageNumber"`
	PageSize               int            `json:"pageSize"`
	ParentBusObID          string         `json:"parentBusObId,omitempty"`
	ParentBusObPublicID    string         `json:"parentBusObPublicId,omitempty"`
	ParentBusObRecID       string         `json:"parentBusObRecId,omitempty"`
	RelatedBusinessObjects []readResponse `json:"relatedBusinessObjects"`
	RelationshipID         string         `json:"relationshipId,omitempty"`
	TotalRecords           int            `json:"totalRecords"`
	errorFields
}

type serviceInfoResponse struct {
	APIVersion     string `json:"apiVersion"`
	CSMCulture     string `json:"csmCulture"`
	CSMVersion     string `json:"csmVersion"`
	SystemDateTime string `json:"systemDateTime"`
}
