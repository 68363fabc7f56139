// The Worker the tests run in: the container entry point plus the observed container class.
export { default, LeanContainer } from "../src/container";
export { ObservedLeanContainer } from "./fake-container";
