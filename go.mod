

require (
)
