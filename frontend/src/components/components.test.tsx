import { QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter, Route, Routes, useLocation } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import { ApiError, errorMessage } from "../data/http";
import { QueryView } from "./Async";
import { DataTable, Pager } from "./DataTable";
import { Time } from "./Time";
import { Timeline, colorFor, mjdTicks } from "./Timeline";
import { TokenControl } from "./TokenControl";
import { authHeaders, getToken } from "../lib/token";

function Where() {
  return <div data-testid="where">{useLocation().pathname}</div>;
}

describe("DataTable", () => {
  const rows = [
    { id: 1, name: "alpha", flux: 12.5 },
    { id: 2, name: "beta", flux: 3.25 },
  ];
  const cols = [
    { key: "n", header: "Name", sort: "name", render: (r: (typeof rows)[0]) => r.name },
    { key: "f", header: "Flux", unit: "mJy", num: true, sort: "flux", render: (r: (typeof rows)[0]) => r.flux },
  ];
  it("renders units under headers, numbers right-aligned, and sorts on click", () => {
    const onSort = vi.fn();
    render(
      <MemoryRouter>
        <DataTable columns={cols} rows={rows} rowKey={(r) => r.id} sort={{ key: "flux", desc: true }} onSort={onSort} />
      </MemoryRouter>,
    );
    expect(screen.getByText("mJy")).toBeInTheDocument();
    expect(screen.getByText("12.5").closest("td")).toHaveClass("num");
    expect(screen.getByText("Flux").closest("th")).toHaveAttribute("aria-sort", "descending");
    fireEvent.click(screen.getByText("Flux"));
    expect(onSort).toHaveBeenCalledWith({ key: "flux", desc: false });
    fireEvent.click(screen.getByText("Name"));
    expect(onSort).toHaveBeenLastCalledWith({ key: "name", desc: true });
  });
  it("navigates on row click", () => {
    render(
      <MemoryRouter initialEntries={["/list"]}>
        <Routes>
          <Route path="*" element={<><DataTable columns={cols} rows={rows} rowKey={(r) => r.id} rowHref={(r) => `/item/${r.id}`} /><Where /></>} />
        </Routes>
      </MemoryRouter>,
    );
    fireEvent.click(screen.getByText("beta"));
    expect(screen.getByTestId("where")).toHaveTextContent("/item/2");
  });
  it("pages with the whole result's count", () => {
    const onOffset = vi.fn();
    render(<Pager count={120} limit={50} offset={50} onOffset={onOffset} />);
    expect(screen.getByText("51–100 of 120")).toBeInTheDocument();
    fireEvent.click(screen.getByText("next ›"));
    expect(onOffset).toHaveBeenCalledWith(100);
    fireEvent.click(screen.getByText("‹ prev"));
    expect(onOffset).toHaveBeenCalledWith(0);
  });
});

describe("QueryView", () => {
  function Probe({ fn }: { fn: () => Promise<string> }) {
    const q = useQuery({ queryKey: ["probe", fn], queryFn: fn, retry: false });
    return <QueryView q={q}>{(d) => <p>data: {d}</p>}</QueryView>;
  }
  const wrap = (ui: React.ReactNode) => render(<QueryClientProvider client={new QueryClient()}>{ui}</QueryClientProvider>);

  it("shows loading, then data", async () => {
    let resolve: (v: string) => void = () => {};
    wrap(<Probe fn={() => new Promise((r) => (resolve = r))} />);
    expect(screen.getByRole("status")).toBeInTheDocument();
    resolve("ok");
    expect(await screen.findByText("data: ok")).toBeInTheDocument();
  });
  it("shows a 404 as 'Not found' with the server's message and a retry button", async () => {
    wrap(<Probe fn={() => Promise.reject(new ApiError(404, "no image with id 7"))} />);
    expect(await screen.findByRole("alert")).toHaveTextContent("Not found");
    expect(screen.getByRole("alert")).toHaveTextContent("no image with id 7");
    expect(screen.getByRole("button", { name: "Retry" })).toBeInTheDocument();
  });
  it("reads FastAPI's field-level errors", () => {
    expect(errorMessage({ detail: [{ loc: ["body", "status"], msg: "bad value" }] }, "x")).toBe("status: bad value");
    expect(errorMessage({ detail: "wrong API token" }, "x")).toBe("wrong API token");
    expect(errorMessage("junk", "fallback")).toBe("fallback");
  });
});

describe("Time", () => {
  it("shows UTC and MJD side by side", () => {
    render(<Time unix={Date.UTC(2000, 0, 1, 12) / 1000} seconds />);
    expect(screen.getByText("2000-01-01 12:00:00")).toBeInTheDocument();
    expect(screen.getByText("51544.50000")).toBeInTheDocument();
  });
  it("accepts an MJD", () => {
    render(<Time mjd={51544.5} />);
    expect(screen.getByText("2000-01-01 12:00")).toBeInTheDocument();
  });
});

describe("Timeline", () => {
  const items = [
    { id: "a", label: "3C286_a", startMjd: 100, endMjd: 101, active: true },
    { id: "b", label: "3C48_b", startMjd: 101.5, endMjd: 102.5, active: true },
    { id: "c", label: "old", startMjd: 98, endMjd: 99, active: false },
  ];
  it("draws one row per set and reports a click", () => {
    const onSelect = vi.fn();
    render(<Timeline items={items} nowMjd={100.5} onSelect={onSelect} />);
    expect(screen.getAllByTestId("timeline-row")).toHaveLength(3);
    fireEvent.click(screen.getByText("3C48_b"));
    expect(onSelect).toHaveBeenCalledWith("b");
  });
  it("colours by validity against now", () => {
    expect(colorFor(items[0], 100.5)).not.toBe(colorFor(items[1], 100.5)); // current vs future
    expect(colorFor(items[2], 100.5)).toBe(colorFor({ ...items[0], active: false }, 100.5));
  });
  it("chooses whole-day or sub-day ticks", () => {
    expect(mjdTicks(100, 103).step).toBe(0.5);
    expect(mjdTicks(100, 130).step).toBe(5);
    expect(mjdTicks(100.1, 100.4).ticks.every((t) => t >= 100.1 && t <= 100.4)).toBe(true);
  });
});

describe("TokenControl", () => {
  it("stores the token in localStorage and sends it as a bearer header", async () => {
    localStorage.clear();
    render(<TokenControl />);
    fireEvent.click(screen.getByRole("button", { name: "read-only" }));
    fireEvent.change(screen.getByLabelText("Write token"), { target: { value: "  s3cret  " } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(screen.getByRole("button", { name: "token set" })).toBeInTheDocument());
    expect(getToken()).toBe("s3cret");
    expect(authHeaders()).toEqual({ Authorization: "Bearer s3cret" });
    fireEvent.click(screen.getByRole("button", { name: "token set" }));
    fireEvent.click(screen.getByRole("button", { name: "Forget" }));
    expect(getToken()).toBeNull();
    expect(authHeaders()).toEqual({});
  });
});
