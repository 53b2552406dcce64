/**
 * Data hooks: one per API read, one per write. Query keys are hierarchical so a
 * live event can invalidate a whole family (see lib/events.ts):
 *
 *   ["status"], ["performance", ...], ["groups", params], ["group", id],
 *   ["calibration", ...], ["images", params], ["latest-images"], ["image", id],
 *   ["sources", ...], ["source", id, ...], ["candidates", params], ["candidate", id],
 *   ["mosaics", params], ["mosaic", id]
 */
import type { CandidateStatus } from "../lib/status";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { getUserName } from "../lib/token";
import { client, unwrap } from "./http";

const V = "/api/v1";

// ----------------------------------------------------------------- status

export function useStatus() {
  return useQuery({
    queryKey: ["status"],
    queryFn: ({ signal }) => unwrap(client.GET("/api/v1/status", { params: { query: { recent: 12 } }, signal })),
  });
}

export function useHealth() {
  return useQuery({
    queryKey: ["health"],
    queryFn: ({ signal }) => unwrap(client.GET("/api/v1/health", { signal })),
  });
}

export function useThroughput(windowH: number, binS: number) {
  return useQuery({
    queryKey: ["performance", "throughput", windowH, binS],
    queryFn: ({ signal }) => {
      const until = Date.now() / 1000;
      return unwrap(
        client.GET("/api/v1/performance/throughput", {
          params: { query: { since: until - windowH * 3600, until, bin_s: binS } },
          signal,
        }),
      );
    },
  });
}

// ------------------------------------------------------------------ queue

export interface GroupParams {
  state?: string[];
  received_since?: number;
  received_until?: number;
  group_id_prefix?: string;
  sort?: string;
  limit: number;
  offset: number;
}

export function useGroups(p: GroupParams) {
  return useQuery({
    queryKey: ["groups", p],
    queryFn: ({ signal }) =>
      unwrap(
        client.GET("/api/v1/groups", {
          params: { query: { ...p, state: p.state?.length ? (p.state as never) : undefined } },
          signal,
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

export function useGroup(groupId: string) {
  return useQuery({
    queryKey: ["group", groupId],
    queryFn: ({ signal }) =>
      unwrap(client.GET("/api/v1/groups/{group_id}", { params: { path: { group_id: groupId } }, signal })),
  });
}

export function useRetryGroup() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (groupId: string) =>
      unwrap(client.POST("/api/v1/groups/{group_id}/retry", { params: { path: { group_id: groupId } } })),
    onSuccess: (r) => {
      void qc.invalidateQueries({ queryKey: ["group", r.group_id] });
      void qc.invalidateQueries({ queryKey: ["groups"] });
      void qc.invalidateQueries({ queryKey: ["status"] });
    },
  });
}

// ------------------------------------------------------------ calibration

export function useCalibrationSets() {
  return useQuery({
    queryKey: ["calibration", "sets"],
    queryFn: ({ signal }) =>
      unwrap(client.GET("/api/v1/calibration/sets", { params: { query: { limit: 500 } }, signal })),
  });
}

// ----------------------------------------------------------------- images

export interface ImageParams {
  type?: "image" | "pbcor" | "residual" | "mosaic";
  field_name?: string;
  created_since?: number;
  created_until?: number;
  ra_deg?: number;
  dec_deg?: number;
  radius_deg?: number;
  sort?: string;
  limit: number;
  offset: number;
}

export function useImages(p: ImageParams) {
  return useQuery({
    queryKey: ["images", p],
    queryFn: ({ signal }) =>
      unwrap(client.GET("/api/v1/images", { params: { query: p as never }, signal })),
    placeholderData: keepPreviousData,
  });
}

export function useImage(id: number) {
  return useQuery({
    queryKey: ["image", id],
    queryFn: ({ signal }) =>
      unwrap(client.GET("/api/v1/images/{image_id}", { params: { path: { image_id: id } }, signal })),
  });
}

export const imagePreviewUrl = (id: number, overlay: boolean, maxSize = 900) =>
  `${V}/images/${id}/preview.png?max_size=${maxSize}${overlay ? "&overlay=true" : ""}`;
export const imageFitsUrl = (id: number) => `${V}/images/${id}/fits`;
export const cutoutUrl = (imageId: number, raDeg: number, decDeg: number, sizeArcmin = 10) =>
  `${V}/images/${imageId}/cutout?format=png&max_size=160&ra_deg=${raDeg.toFixed(6)}&dec_deg=${decDeg.toFixed(6)}&size_arcmin=${sizeArcmin}`;

// ---------------------------------------------------------------- sources

export interface SourceSearch {
  ra_deg?: number;
  dec_deg?: number;
  radius_deg?: number;
  source_id_contains?: string;
  min_flux_mjy?: number;
  max_flux_mjy?: number;
  min_sigma_deviation?: number;
  min_chi2_nu?: number;
  min_eta?: number;
  min_n_obs?: number;
  sort?: string;
  limit: number;
  offset: number;
}

export function useSources(p: SourceSearch) {
  return useQuery({
    queryKey: ["sources", "list", p],
    queryFn: ({ signal }) =>
      unwrap(client.GET("/api/v1/sources", { params: { query: p as never }, signal })),
    placeholderData: keepPreviousData,
  });
}

export function useScatter(p: Omit<SourceSearch, "limit" | "offset" | "sort">) {
  return useQuery({
    queryKey: ["sources", "scatter", p],
    queryFn: ({ signal }) =>
      unwrap(client.GET("/api/v1/sources/variability-scatter", { params: { query: p as never }, signal })),
    placeholderData: keepPreviousData,
  });
}

export function useSource(sourceId: string) {
  return useQuery({
    queryKey: ["source", sourceId],
    queryFn: ({ signal }) =>
      unwrap(client.GET("/api/v1/sources/{source_id}", { params: { path: { source_id: sourceId } }, signal })),
  });
}

export function useLightCurve(sourceId: string) {
  return useQuery({
    queryKey: ["source", sourceId, "lightcurve"],
    queryFn: ({ signal }) =>
      unwrap(
        client.GET("/api/v1/sources/{source_id}/lightcurve", { params: { path: { source_id: sourceId } }, signal }),
      ),
  });
}

export function useFlagSource(sourceId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: { flagged_by: string; note: string }) =>
      unwrap(
        client.POST("/api/v1/sources/{source_id}/flag", { params: { path: { source_id: sourceId } }, body }),
      ),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ["source", sourceId] });
      void qc.invalidateQueries({ queryKey: ["candidates"] });
    },
  });
}

// ------------------------------------------------------------- candidates

export interface CandidateParams {
  status?: CandidateStatus[];
  flag_type?: string;
  source_id?: string;
  min_significance?: number;
  sort?: string;
  limit: number;
  offset: number;
}

export function useCandidates(p: CandidateParams) {
  return useQuery({
    queryKey: ["candidates", p],
    queryFn: ({ signal }) =>
      unwrap(client.GET("/api/v1/candidates", { params: { query: p as never }, signal })),
    placeholderData: keepPreviousData,
  });
}

/** Candidates grouped by source (one row per source, every flag in it). */
export function useCandidateRows(p: CandidateParams) {
  return useQuery({
    queryKey: ["candidates", "by-source", p],
    queryFn: ({ signal }) =>
      unwrap(client.GET("/api/v1/candidates/by-source", { params: { query: p as never }, signal })),
    placeholderData: keepPreviousData,
  });
}

/** Triage of a source row: the same status move for each of its candidates, in turn. */
export function useSourceCandidatesStatus() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (v: { ids: number[]; status: CandidateStatus; note?: string }) => {
      const out = [];
      for (const id of v.ids) {
        out.push(
          await unwrap(
            client.POST("/api/v1/candidates/{candidate_id}/status", {
              params: { path: { candidate_id: id } },
              body: { status: v.status, note: v.note ?? "", author: getUserName() || "dashboard" },
            }),
          ),
        );
      }
      return out;
    },
    onSettled: (cs) => {
      void qc.invalidateQueries({ queryKey: ["candidates"] });
      void qc.invalidateQueries({ queryKey: ["status"] });
      for (const c of cs ?? []) void qc.invalidateQueries({ queryKey: ["source", c.source_id] });
    },
  });
}

/** A note on each candidate of a source row. */
export function useSourceCandidatesNote() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (v: { ids: number[]; note: string }) => {
      const out = [];
      for (const id of v.ids) {
        out.push(
          await unwrap(
            client.POST("/api/v1/candidates/{candidate_id}/notes", {
              params: { path: { candidate_id: id } },
              body: { note: v.note, author: getUserName() || "dashboard" },
            }),
          ),
        );
      }
      return out;
    },
    onSettled: () => {
      void qc.invalidateQueries({ queryKey: ["candidates"] });
    },
  });
}

export function useCandidateStatus() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id: number; status: CandidateStatus; note?: string }) =>
      unwrap(
        client.POST("/api/v1/candidates/{candidate_id}/status", {
          params: { path: { candidate_id: v.id } },
          body: { status: v.status, note: v.note ?? "", author: getUserName() || "dashboard" },
        }),
      ),
    onSuccess: (c) => {
      void qc.invalidateQueries({ queryKey: ["candidates"] });
      void qc.invalidateQueries({ queryKey: ["source", c.source_id] });
      void qc.invalidateQueries({ queryKey: ["status"] });
    },
  });
}

export function useCandidateNote() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id: number; note: string }) =>
      unwrap(
        client.POST("/api/v1/candidates/{candidate_id}/notes", {
          params: { path: { candidate_id: v.id } },
          body: { note: v.note, author: getUserName() || "dashboard" },
        }),
      ),
    onSuccess: (c) => {
      void qc.invalidateQueries({ queryKey: ["candidates"] });
      void qc.invalidateQueries({ queryKey: ["source", c.source_id] });
    },
  });
}

// ---------------------------------------------------------------- mosaics

export function useMosaics(p: { limit: number; offset: number }) {
  return useQuery({
    queryKey: ["mosaics", p],
    queryFn: ({ signal }) => unwrap(client.GET("/api/v1/mosaics", { params: { query: p }, signal })),
    placeholderData: keepPreviousData,
  });
}

export function useMosaic(id: number) {
  return useQuery({
    queryKey: ["mosaic", id],
    queryFn: ({ signal }) =>
      unwrap(client.GET("/api/v1/mosaics/{mosaic_id}", { params: { path: { mosaic_id: id } }, signal })),
  });
}

export const mosaicThumbUrl = (id: number) => `${V}/mosaics/${id}/thumbnail.png`;
export const mosaicFitsUrl = (id: number) => `${V}/mosaics/${id}/fits`;
