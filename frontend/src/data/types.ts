/** Short names for the generated OpenAPI schema types (src/client/schema.d.ts). */
import type { components } from "../client/schema";

type S = components["schemas"];

export type PipelineStatus = S["PipelineStatus"];
export type QueueStats = S["QueueStats"];
export type CalibrationSet = S["CalibrationSet"];
export type RecentGroup = S["RecentGroup"];
export type GroupDetail = S["GroupDetail"];
export type Health = S["Health"];
export type Throughput = S["Throughput"];
export type ImageRow = S["ImageRow"];
export type ImageDetail = S["ImageDetail"];
export type SourceListItem = S["SourceListItem"];
export type SourceDetail = S["SourceDetail"];
export type LightCurve = S["LightCurve"];
export type LightCurvePoint = S["LightCurvePointOut"];
export type VariabilityScatter = S["VariabilityScatter"];
export type ESECandidate = S["ESECandidate"];
export type SourceCandidates = S["SourceCandidates"];
export type CandidateFlag = S["CandidateFlag"];
export type RecentMosaic = S["RecentMosaic"];
export type MosaicRow = S["MosaicRow"];
