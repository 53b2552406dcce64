import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter, Link, Route, Routes } from "react-router-dom";
import { ApiError } from "./data/http";
import { Layout } from "./components/Layout";
import { CalibrationPage } from "./pages/Calibration";
import { CandidatesPage } from "./pages/Candidates";
import { GroupPage } from "./pages/Group";
import { ImagePage } from "./pages/Image";
import { ImagesPage } from "./pages/Images";
import { MosaicPage } from "./pages/Mosaic";
import { MosaicsPage } from "./pages/Mosaics";
import { OverviewPage } from "./pages/Overview";
import { QueuePage } from "./pages/Queue";
import { SourcePage } from "./pages/Source";
import { SourcesPage } from "./pages/Sources";

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Live events invalidate what changed; this is only a safety net.
        staleTime: 30_000,
        refetchInterval: 60_000,
        retry: (n, e) => !(e instanceof ApiError && e.status >= 400 && e.status < 500) && n < 2,
      },
    },
  });
}

function NotFound() {
  return (
    <section className="page">
      <h1>Page not found</h1>
      <p>
        No page at this address. Go to the <Link to="/">overview</Link>.
      </p>
    </section>
  );
}

export function AppRoutes() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<OverviewPage />} />
        <Route path="queue" element={<QueuePage />} />
        <Route path="queue/:groupId" element={<GroupPage />} />
        <Route path="calibration" element={<CalibrationPage />} />
        <Route path="images" element={<ImagesPage />} />
        <Route path="images/:imageId" element={<ImagePage />} />
        <Route path="sources" element={<SourcesPage />} />
        <Route path="sources/:sourceId" element={<SourcePage />} />
        <Route path="candidates" element={<CandidatesPage />} />
        <Route path="mosaics" element={<MosaicsPage />} />
        <Route path="mosaics/:mosaicId" element={<MosaicPage />} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}

export function App({ client }: { client: QueryClient }) {
  return (
    <QueryClientProvider client={client}>
      <BrowserRouter>
        <AppRoutes />
      </BrowserRouter>
    </QueryClientProvider>
  );
}
