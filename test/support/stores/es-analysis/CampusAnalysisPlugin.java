package campus.analysis;

import java.util.Map;
import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.snowball.SnowballFilter;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

/**
 * The two token filters of Elasticsearch's analysis-common module that campus-sync's index
 * settings use, for the test server only. Elastic publishes the 8.x server to Maven Central as
 * the integ-test-zip, without its analysis-common module, and no 8.x build of that module is on
 * Maven Central. These factories build the same Lucene filters (from lucene-analysis-common,
 * which the server ships in lib/) that analysis-common's "lowercase" and "snowball" filters
 * build, under the same names and settings; production runs the real module (docker image).
 */
public class CampusAnalysisPlugin extends Plugin implements AnalysisPlugin {
  @Override
  public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
    return Map.of(
        "lowercase",
        (indexSettings, env, name, settings) ->
            new AbstractTokenFilterFactory(name, settings) {
              @Override
              public TokenStream create(TokenStream in) {
                return new LowerCaseFilter(in);
              }
            },
        "snowball",
        (indexSettings, env, name, settings) -> {
          String language = settings.get("language", "English");
          return new AbstractTokenFilterFactory(name, settings) {
            @Override
            public TokenStream create(TokenStream in) {
              return new SnowballFilter(in, language);
            }
          };
        });
  }
}
