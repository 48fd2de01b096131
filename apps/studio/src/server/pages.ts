/** A page of the studio. */
export interface StudioPage {
  /** Its path, and the name of its body (`public/pages/<id>.html`) and script (`<id>.js`). */
  readonly id: 'images' | 'speech' | 'forecast' | 'pipeline';
  /** The nav label and the title. */
  readonly title: string;
  /** Scripts a page needs before its own (served by the static route). */
  readonly vendor: readonly string[];
}

/** The pages, in nav order (the first is the home page). */
export const PAGES: readonly StudioPage[] = [
  { id: 'images', title: 'Images', vendor: [] },
  { id: 'speech', title: 'Speech', vendor: [] },
  { id: 'forecast', title: 'Forecast', vendor: ['/vendor/chart.umd.min.js'] },
  { id: 'pipeline', title: 'Pipeline', vendor: [] },
];
